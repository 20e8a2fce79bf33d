import HTTPTypes
import Instrumentation
import ServiceContextModule
import Tracing

/// How `HTTPFields` carry a trace context: what a tracer's propagation (W3C `traceparent` with
/// swift-otel, or its own) reads from a request and writes into one.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return carrier[name]
    }
}

struct HTTPFieldsInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPFields) {
        guard let name = HTTPField.Name(key) else { return }
        carrier[name] = value
    }
}

/// The tracer a server or client uses: the given one, else the bootstrapped one, else none (a no-op
/// tracer costs nothing per request: no span is made).
enum HTTPTracingSupport {
    static func tracer(_ configured: (any Tracer)?) -> (any Tracer)? {
        let tracer = configured ?? InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }
}
