/**
 * The optimizer: Adagrad with per-element accumulators, applied only to the table rows a step touched, so a
 * step costs what its batch's tokens cost whatever the vocabulary. It is the GradientSink the backward pass
 * (contrastiveLoss.ts) writes into.
 */
import type { GradientSink } from './contrastiveLoss';

/** Sparse Adagrad over the rows of one table: gradients accumulate in `grad`, touched rows are listed. */
export class SparseAdagrad implements GradientSink {
  private readonly h: Float32Array;
  readonly grad: Float32Array;
  private readonly touched: Uint8Array;
  private readonly list: Int32Array;
  private n = 0;
  constructor(
    private readonly table: Float32Array,
    private readonly d: number,
    private readonly lr: number,
  ) {
    this.h = new Float32Array(table.length);
    this.grad = new Float32Array(table.length);
    const rows = table.length / d;
    this.touched = new Uint8Array(rows);
    this.list = new Int32Array(rows);
  }
  touch(row: number): void {
    if (!this.touched[row]) {
      this.touched[row] = 1;
      this.list[this.n++] = row;
    }
  }
  step(): void {
    const { h, grad, table, d, lr } = this;
    // Row order does not matter for the result (rows are independent), but sort anyway so the memory walk
    // is sequential.
    const rows = this.list.subarray(0, this.n).sort();
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      this.touched[row] = 0;
      for (let k = row * d, end = k + d; k < end; k++) {
        const gk = grad[k]!;
        const hk = h[k]! + gk * gk;
        h[k] = hk;
        table[k] = table[k]! - (lr * gk) / (Math.sqrt(hk) + 1e-10);
        grad[k] = 0;
      }
    }
    this.n = 0;
  }
}
