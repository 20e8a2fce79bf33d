import CoreMetrics

/// What an ``HTTPServer`` records with swift-metrics, when asked (``HTTPServer/Configuration-swift.struct/metrics``).
///
/// Labels, all under ``prefix`` (default `aio_http_server`):
/// - `_connections` (meter): open connections; `_connections_accepted_total` (counter)
/// - `_requests_total` (counter, dimension `status`: `1xx` … `5xx`)
/// - `_request_duration_seconds` (timer, nanoseconds): from the request head to the last byte of the
///   response handed to the kernel
/// - `_received_bytes_total`, `_sent_bytes_total` (counters): HTTP message bytes (heads and bodies)
/// - `_tls_handshakes_total`, `_tls_handshake_failures_total` (counters)
///
/// Nothing is recorded, and no metric object exists, unless this is set; the metric objects are made
/// once, when the server starts, so a request costs a few calls into the backend.
public struct HTTPServerMetrics: Sendable {
    /// The labels' common prefix.
    public var prefix: String
    /// The backend; nil uses `MetricsSystem.factory` (what the program bootstrapped) as the server starts.
    public var factory: (any MetricsFactory)?

    /// Metrics under `prefix`, recorded with `factory` (or the bootstrapped one).
    public init(prefix: String = "aio_http_server", factory: (any MetricsFactory)? = nil) {
        self.prefix = prefix
        self.factory = factory
    }
}

/// The metric objects of one server (made once) and the calls that record them.
final class HTTPServerMetricsRecorder: Sendable {
    let connections: Meter
    let accepted: Counter
    let requestsByClass: [Counter]  // 1xx ... 5xx, then anything else
    let duration: Timer
    let received: Counter
    let sent: Counter
    let handshakes: Counter
    let handshakeFailures: Counter

    init(_ configuration: HTTPServerMetrics) {
        let factory = configuration.factory ?? MetricsSystem.factory
        let prefix = configuration.prefix
        connections = Meter(label: "\(prefix)_connections", factory: factory)
        accepted = Counter(label: "\(prefix)_connections_accepted_total", factory: factory)
        requestsByClass = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"].map {
            Counter(label: "\(prefix)_requests_total", dimensions: [("status", $0)], factory: factory)
        }
        duration = Timer(label: "\(prefix)_request_duration_seconds", factory: factory)
        received = Counter(label: "\(prefix)_received_bytes_total", factory: factory)
        sent = Counter(label: "\(prefix)_sent_bytes_total", factory: factory)
        handshakes = Counter(label: "\(prefix)_tls_handshakes_total", factory: factory)
        handshakeFailures = Counter(label: "\(prefix)_tls_handshake_failures_total", factory: factory)
    }

    /// One request answered (or given up on) with `status`.
    func request(status: Int, nanoseconds: Int64, received receivedBytes: Int, sent sentBytes: Int) {
        requestsByClass[statusClassIndex(status)].increment()
        duration.recordNanoseconds(nanoseconds)
        if receivedBytes > 0 { received.increment(by: receivedBytes) }
        if sentBytes > 0 { sent.increment(by: sentBytes) }
    }
}

/// The index of `status`'s class among `1xx` … `5xx`, and 5 for anything else (the server's and
/// client's `_requests_total` counters are made in that order).
func statusClassIndex(_ status: Int) -> Int {
    (100..<600).contains(status) ? status / 100 - 1 : 5
}
