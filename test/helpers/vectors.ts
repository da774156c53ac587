/**
 * A hand-made unit vector of `dim` dimensions pointing along `axis`, tilted by `tilt` towards the next
 * axis: its cosine to the untilted one is 1/√(1+tilt²). For suites that test SQL and ranking, not a model.
 */
export function unitVector(dim: number, axis: number, tilt = 0): number[] {
  const v = new Array<number>(dim).fill(0);
  v[axis % dim] = 1;
  v[(axis + 1) % dim] = tilt;
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}
