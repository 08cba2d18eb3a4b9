// The one error a provider throws: a message fit to show the tenant (never a
// secret) and whether napbox should deliver the message again later.

export class ProviderError extends Error {
  constructor(message, { retryable, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ProviderError';
    this.retryable = retryable === true;
  }
}
