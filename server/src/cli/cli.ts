import { main } from './main';

// Exit explicitly once output is flushed: a worker thread or a pool must never keep a finished CLI alive.
main(process.argv.slice(2)).then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e) => {
    process.stderr.write(`semcode: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(2);
  },
);
