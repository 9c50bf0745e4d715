import Metrics
import Prometheus
import Synchronization

/// The process-wide Prometheus registry behind `/metrics`. swift-metrics allows one bootstrap per
/// process, so every server in the process (tests start several) shares it.
package enum MetricsBootstrap {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// The registry, bootstrapping the metrics system on first use.
    package static var registry: PrometheusCollectorRegistry {
        state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created))
            registry = created
            return created
        }
    }

    /// Every metric in Prometheus's text format, as `GET /metrics` answers.
    package static func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
