import RTMProtocol

/// The client frame reader under fuzzing: any bytes give a request or an invalid-frame verdict.
enum RequestParserFuzzing {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        switch RequestParser.parse(input) {
        case .request(let id, let request):
            // Only `ack` goes without an id.
            if id == nil { guard case .ack = request else { preconditionFailure("a request without id that is not ack") } }
        case .invalid:
            break
        }
    }
}
