/**
 * Errors the local control plane returns, shaped like AWS IoT's restJson1
 * errors: the `x-amzn-ErrorType` header names the exception and the JSON body
 * carries `{message}`, so the real SDK raises the same named exception class
 * (and its retry strategy classifies it the same way) as against AWS.
 */
export const API_ERROR_STATUS = {
  InvalidRequestException: 400,
  ThrottlingException: 400, // AWS IoT uses 400, not 429; the SDK retries it by name
  UnauthorizedException: 401,
  MalformedPolicyException: 400,
  MissingAuthenticationTokenException: 403,
  InvalidSignatureException: 403,
  UnrecognizedClientException: 403,
  ResourceNotFoundException: 404,
  CertificateStateException: 406,
  DeleteConflictException: 409,
  ResourceAlreadyExistsException: 409,
  VersionConflictException: 409,
  LimitExceededException: 410,
  InternalFailureException: 500,
  ServiceUnavailableException: 503,
  UnknownOperationException: 404,
  // Service Quotas (awsJson1_1) errors.
  NoSuchResourceException: 400,
  IllegalArgumentException: 400,
} as const;

export type ApiErrorName = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  readonly errorType: ApiErrorName;
  readonly statusCode: number;
  /** Extra body members AWS sends with some errors (e.g. resourceId). */
  readonly extra: Record<string, unknown>;

  constructor(errorType: ApiErrorName, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.errorType = errorType;
    this.statusCode = API_ERROR_STATUS[errorType];
    this.extra = extra;
  }
}
