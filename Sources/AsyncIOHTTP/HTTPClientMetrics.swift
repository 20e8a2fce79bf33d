import CoreMetrics

/// What an ``HTTPClient`` records with swift-metrics, when asked (``HTTPClient/Configuration-swift.struct/metrics``).
///
/// Labels, all under ``prefix`` (default `aio_http_client`):
/// - `_connections` (meter): open connections in the pool; `_connections_opened_total` (counter)
/// - `_connection_waits_total` (counter): requests that waited for a connection (at a limit)
/// - `_retries_total` (counter): requests sent again because a pooled connection had gone stale
/// - `_requests_total` (counter, dimension `status`: `1xx` … `5xx`, `failed`)
/// - `_request_duration_seconds` (timer, nanoseconds): from the request to its response head
///
/// Nothing is recorded, and no metric object exists, unless this is set.
public struct HTTPClientMetrics: Sendable {
    /// The labels' common prefix.
    public var prefix: String
    /// The backend; nil uses `MetricsSystem.factory` (what the program bootstrapped) as the client is made.
    public var factory: (any MetricsFactory)?

    /// Metrics under `prefix`, recorded with `factory` (or the bootstrapped one).
    public init(prefix: String = "aio_http_client", factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        self.factory = factory
    }
}

/// The metric objects of one client (made once) and the calls that record them.
final class HTTPClientMetricsRecorder: Sendable {
    let connections: Meter
    let opened: Counter
    let waits: Counter
    let retries: Counter
    let requestsByClass: [Counter]  // 1xx ... 5xx, then failed
    let duration: Timer

    init(_ configuration: HTTPClientMetrics) {
        let factory = configuration.factory ?? MetricsSystem.factory
        let prefix = configuration.prefix
        connections = Meter(label: "\(prefix)_connections", factory: factory)
        opened = Counter(label: "\(prefix)_connections_opened_total", factory: factory)
        waits = Counter(label: "\(prefix)_connection_waits_total", factory: factory)
        retries = Counter(label: "\(prefix)_retries_total", factory: factory)
        requestsByClass = ["1xx", "2xx", "3xx", "4xx", "5xx", "failed"].map {
            Counter(label: "\(prefix)_requests_total", dimensions: [("status", $0)], factory: factory)
        }
        duration = Timer(label: "\(prefix)_request_duration_seconds", factory: factory)
    }

    /// A response head arrived with `status` (nil: the request failed) after `nanoseconds`.
    func request(status: Int?, nanoseconds: Int64) {
        let index = status.map(statusClassIndex) ?? 5
        requestsByClass[index].increment()
        if status != nil { duration.recordNanoseconds(nanoseconds) }
    }

    func poolSize(_ count: Int) { connections.set(count) }
    func connectionOpened() { opened.increment() }
    func waited() { waits.increment() }
    func retried() { retries.increment() }
}
