/** Every handler's failure becomes one clear error response; nothing a request does can crash the server. */
import { ErrorCodes, LSPErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { SemcodeError, errorMessage } from '../errors';

export function toResponseError(e: unknown): ResponseError<void> {
  if (e instanceof ResponseError) return e as ResponseError<void>;
  if (e instanceof SemcodeError) return new ResponseError(LSPErrorCodes.RequestFailed, e.message);
  return new ResponseError(ErrorCodes.InternalError, `internal error: ${errorMessage(e)}`);
}

/** Wraps a request handler: a thrown error is returned as a ResponseError and logged. */
export function guarded<P extends unknown[], R>(name: string, log: (msg: string) => void, fn: (...args: P) => Promise<R>): (...args: P) => Promise<R> {
  return async (...args: P) => {
    try {
      return await fn(...args);
    } catch (e) {
      const err = toResponseError(e);
      log(`${name} failed: ${err.message}`);
      throw err;
    }
  };
}
