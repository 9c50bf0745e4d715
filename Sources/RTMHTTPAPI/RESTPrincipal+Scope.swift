import RTMCore

/// What a principal reaches beyond its own sends, by the app's ``RESTTokenScope``: the one place
/// the history and event routes ask.
extension RESTPrincipal {
    /// The user whose own messages alone the principal may read from `app`'s history; `nil` when it
    /// reads the whole app (a customer credential, or any token of an app whose scope is `app`).
    func historyParticipant(in app: AppRecord) -> String? {
        guard case .user(let user) = self, app.restTokenScope == .user else { return nil }
        return user.rawValue
    }

    /// Whether the principal may use app-wide calls (the destructive event feeds).
    /// - Throws: ``APIError/customerCredentialRequired`` for a token of an app whose scope is `user`.
    func checkAppWideAccess(in app: AppRecord) throws {
        if historyParticipant(in: app) != nil { throw APIError.customerCredentialRequired }
    }
}
