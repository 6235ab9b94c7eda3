/**
 * SCIM's own error shape (RFC 7644 3.12). SCIM clients (Entra ID, Okta) read `status` and `scimType`, not
 * Hourglass's HG_ codes, so the SCIM routes answer with this body rather than the usual error envelope.
 */
export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The scimType values of RFC 7644 table 9 that this code raises. */
export type ScimType =
  'invalidFilter' | 'tooMany' | 'uniqueness' | 'mutability' | 'invalidSyntax' | 'invalidPath' | 'noTarget' | 'invalidValue' | 'invalidVers' | 'sensitive';

export class ScimError extends Error {
  readonly status: number;
  readonly scimType?: ScimType;
  /** Safe to return to the client: names attributes and rules, never echoes secrets. */
  readonly detail: string;

  constructor(status: number, scimType: ScimType | undefined, detail: string) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    if (scimType !== undefined) this.scimType = scimType;
    this.detail = detail;
  }
}

/** A 400 with a scimType: what almost every protocol problem is. */
export function badRequest(scimType: ScimType, detail: string): ScimError {
  return new ScimError(400, scimType, detail);
}

export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

/** The response body; `status` is a string per RFC 7644 3.12. */
export function scimErrorBody(e: ScimError): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [SCIM_ERROR_SCHEMA], status: String(e.status), detail: e.detail };
  if (e.scimType !== undefined) body.scimType = e.scimType;
  return body;
}
