/// Reply codes of the client protocol (`client-protocol.md` §2–§6). Raw values are Agora RTM 1.x's.

/// The codes every request's reply shares; each operation's enum below repeats them under its own name.
public enum ReplyCode {
    /// The request succeeded.
    public static let ok = 0
    /// The request failed (also the answer to operations the server does not carry out yet: call invitations, §7).
    public static let failure = 1
    /// The request needs a logged-in session (every operation's `userNotLoggedIn`).
    public static let userNotLoggedIn = 102
}

/// `LOGIN_ERR_*`, also used for `resume`.
public enum LoginErrorCode: Int, Sendable, Error {
    case ok = 0, unknown = 1, rejected = 2, invalidArgument = 3, invalidAppID = 4, invalidToken = 5
    case tokenExpired = 6, notAuthorized = 7, alreadyLoggedIn = 8, timeout = 9, tooOften = 10
    case notInitialized = 101
}

/// `LOGOUT_ERR_*`.
public enum LogoutErrorCode: Int, Sendable, Error {
    case ok = 0, rejected = 1, notInitialized = 101, userNotLoggedIn = 102
}

/// `RENEW_TOKEN_ERR_*`.
public enum RenewTokenErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, invalidArgument = 2, rejected = 3, tooOften = 4, tokenExpired = 5, invalidToken = 6
    case notInitialized = 101, userNotLoggedIn = 102
}

/// `PEER_MESSAGE_ERR_*`. `ok` means the receiver acknowledged the message.
public enum PeerMessageErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, sentTimeout = 2, peerUnreachable = 3, cachedByServer = 4, tooOften = 5
    case invalidUserID = 6, invalidMessage = 7, incompatibleMessage = 8, notInitialized = 101, userNotLoggedIn = 102
}

/// `JOIN_CHANNEL_ERR_*`.
public enum JoinChannelErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, rejected = 2, invalidArgument = 3, timeout = 4, exceedLimit = 5, alreadyJoined = 6
    case tooOften = 7, joinSameChannelTooOften = 8, notInitialized = 101, userNotLoggedIn = 102
}

/// `LEAVE_CHANNEL_ERR_*`.
public enum LeaveChannelErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, rejected = 2, notInChannel = 3, notInitialized = 101, userNotLoggedIn = 102
}

/// `CHANNEL_MESSAGE_ERR_*`. `ok` means the server accepted the message.
public enum ChannelMessageErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, sentTimeout = 2, tooOften = 3, invalidMessage = 4, notInitialized = 101, userNotLoggedIn = 102
}

/// `GET_MEMBERS_ERR_*`.
public enum GetMembersErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, rejected = 2, timeout = 3, tooOften = 4, notInChannel = 5, notInitialized = 101, userNotLoggedIn = 102
}

/// `GET_CHANNEL_MEMBER_COUNT_ERR_*`.
public enum GetChannelMemberCountErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, invalidArgument = 2, tooOften = 3, timeout = 4, exceedLimit = 5
    case notInitialized = 101, userNotLoggedIn = 102
}

/// `QUERY_PEERS_ONLINE_STATUS_ERR_*`.
public enum QueryPeersOnlineStatusErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, invalidArgument = 2, rejected = 3, timeout = 4, tooOften = 5, notInitialized = 101, userNotLoggedIn = 102
}

/// `PEER_SUBSCRIPTION_STATUS_ERR_*`.
public enum PeerSubscriptionStatusErrorCode: Int, Sendable, Error {
    case ok = 0, failure = 1, invalidArgument = 2, rejected = 3, timeout = 4, tooOften = 5, overflow = 6
    case notInitialized = 101, userNotLoggedIn = 102
}

/// `ATTRIBUTE_OPERATION_ERR_*`.
public enum AttributeOperationErrorCode: Int, Sendable, Error {
    case ok = 0, notReady = 1, failure = 2, invalidArgument = 3, sizeOverflow = 4, tooOften = 5, userNotFound = 6
    case timeout = 7, notInitialized = 101, userNotLoggedIn = 102
}

/// `CONNECTION_STATE_*`.
public enum ConnectionState: Int, Sendable {
    case disconnected = 1, connecting = 2, connected = 3, reconnecting = 4, aborted = 5
}

/// `CONNECTION_CHANGE_REASON_*`.
public enum ConnectionChangeReason: Int, Sendable {
    case login = 1, loginSuccess = 2, loginFailure = 3, loginTimeout = 4, interrupted = 5, logout = 6
    case bannedByServer = 7, remoteLogin = 8, tokenExpired = 9
}

/// WebSocket close codes the server sends: RFC 6455's it uses (1000–1009) and its own (4005–4009).
public enum RTMCloseCode {
    /// RFC 6455: a normal close (logout, a session resumed on another socket).
    public static let normal: UInt16 = 1000
    /// RFC 6455: the server is going away (shutdown).
    public static let goingAway: UInt16 = 1001
    /// RFC 6455: a frame broke the protocol (masking, RSV bits, opcodes, fragments, close payloads).
    public static let protocolError: UInt16 = 1002
    /// RFC 6455: a data type the server does not accept (binary frames).
    public static let unsupportedData: UInt16 = 1003
    /// RFC 6455: text that is not valid UTF-8.
    public static let invalidPayload: UInt16 = 1007
    /// RFC 6455: a policy was broken (no login in time, too many protocol errors).
    public static let policyViolation: UInt16 = 1008
    /// RFC 6455: a message over the size limit.
    public static let messageTooBig: UInt16 = 1009
    /// The client's outbound queue overflowed.
    public static let slowConsumer: UInt16 = 4005
    /// The same user logged in elsewhere.
    public static let remoteLogin: UInt16 = 4008
    /// The token expired while connected.
    public static let tokenExpired: UInt16 = 4009
}
