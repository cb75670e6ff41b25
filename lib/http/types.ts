/** The HTTP request as Tessera's endpoints see it, whichever transport delivered it. */
export interface HttpRequest {
  readonly method: string
  readonly path: string
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  /** Raw body (already base64-decoded by the transport adapter). */
  readonly body: string
  /** Raw query string without `?`. */
  readonly query: string
  readonly sourceIp: string
  readonly requestId: string
  /** The `{name}` segment of a templated endpoint path (`/approvals/{id}` → `{ id }`); absent otherwise. */
  readonly pathParams?: Readonly<Record<string, string>> | undefined
}

export interface HttpResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}
