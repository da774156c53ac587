// The real NATS server with JetStream the suites use: scripts/ensure-nats.sh starts one (CI exports its URL as
// SEMCODE_TEST_NATS_URL). When it is unreachable the suites fail, never skip.
export function natsUrl(): string {
  return process.env.SEMCODE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
}
