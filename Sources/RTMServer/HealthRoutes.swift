import Hummingbird
import NIOCore
/// `GET /healthz`, `/readyz` and `/metrics` (no auth, outside `/dev/`).
struct HealthRoutes: Sendable {
    let isReachable: @Sendable () async -> Bool
    /// In a cluster, why the node should not get traffic now (``ClusterBroker/notReadyBecause``).
    var clusterNotReadyBecause: @Sendable () -> String? = { nil }

    func register<Context: RequestContext>(on router: Hummingbird.Router<Context>) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ in
            if let reason = clusterNotReadyBecause() { return Self.text("\(reason)\n", status: .serviceUnavailable) }
            return await isReachable() ? Self.text("ready\n") : Self.text("storage unreachable\n", status: .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: MetricsBootstrap.exposition())))
        }
    }

    static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
