/** The scripts' `--flag value` options, read one at a time: each script's loop says what its flags mean. */
export interface ArgReader {
  /** the next argument as this flag's value (a missing one, or another flag, is a usage error) */
  value(this: void): string;
  /** the value as a non-negative integer */
  int(this: void): number;
  /** every following argument up to the next flag (none is a usage error naming `what`) */
  values(this: void, what?: string): string[];
}

export function eachArg(argv: string[], usage: (msg: string) => never, onArg: (arg: string, read: ArgReader) => void): void {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const isValue = (v: string | undefined): v is string => v !== undefined && !v.startsWith('--');
    const value = (): string => {
      const v = argv[++i];
      if (!isValue(v)) usage(`${arg} needs a value`);
      return v;
    };
    onArg(arg, {
      value,
      int: () => {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 0) usage(`${arg} needs a non-negative integer`);
        return v;
      },
      values: (what = 'value') => {
        const out: string[] = [];
        while (isValue(argv[i + 1])) out.push(argv[++i]!);
        if (!out.length) usage(`${arg} needs at least one ${what}`);
        return out;
      },
    });
  }
}
