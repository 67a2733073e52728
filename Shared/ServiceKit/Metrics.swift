import CoreMetrics
public import Prometheus

/// The process's metrics registry: swift-metrics calls from every library land here, and the admin
/// port renders it in the Prometheus text format.
public enum MetricsSetup {
    /// Installs a Prometheus-backed metrics system once per process and returns its registry.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        ]
        // What a person waits for is timed in seconds, not the bus's microseconds.
        factory.durationHistogramBuckets["web_page_load_seconds"] = [
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(5),
            .seconds(10), .seconds(30),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
