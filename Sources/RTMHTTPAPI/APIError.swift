import HTTPTypes
import Hummingbird
import NIOCore

/// A REST failure: the HTTP status and the `code`/`message` of the error body
/// (`server-contract.md` §1). The one place REST failures are named.
package struct APIError: Error, Sendable {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String
    /// Seconds for a `Retry-After` header (429 only).
    package var retryAfter: Int?

    package static func invalidParameter(_ message: String) -> APIError {
        APIError(status: .badRequest, code: "invalid_parameter", message: message)
    }
    package static let unauthorized = APIError(status: .unauthorized, code: "unauthorized",
                                              message: "Authentication failed: check the credentials and the app id.")
    /// A token used on an app-wide call of an app whose `rest_token_scope` is `user`.
    package static let customerCredentialRequired = APIError(
        status: .unauthorized, code: "unauthorized",
        message: "This app's tokens reach only their own user's data: this call needs a customer credential (Basic auth).")
    package static func tooManyRequests(retryAfter: Int) -> APIError {
        APIError(status: .tooManyRequests, code: "too_many_requests",
                 message: "Too many requests for this app; retry after \(retryAfter) s.", retryAfter: retryAfter)
    }
    package static let timeout = APIError(status: .requestTimeout, code: "timeout",
                                         message: "The receiver did not acknowledge the message in time.")
    package static let tooLarge = APIError(status: .contentTooLarge, code: "payload_too_large",
                                          message: "The request body is larger than 64 KiB.")
    package static let gone = APIError(status: .gone, code: "gone",
                                      message: "The history query handle is unknown, used or expired; create a new query.")
    package static let notFound = APIError(status: .notFound, code: "not_found", message: "No such endpoint.")
    package static let internalError = APIError(status: .internalServerError, code: "internal_error",
                                               message: "The server failed to handle the request.")
}
