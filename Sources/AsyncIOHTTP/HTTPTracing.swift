import HTTPTypes
import Instrumentation
import ServiceContextModule
import Tracing
import W3CTraceContext

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

    /// The propagation used when no tracer records: the given one, else the bootstrapped instrument
    /// unless it is a no-op (or a tracer, which records and so propagates itself).
    static func propagation(_ configured: (any Instrument)?, tracer: (any Tracer)?) -> (any Instrument)? {
        if tracer != nil { return nil }
        if let configured { return configured }
        let instrument = InstrumentationSystem.instrument
        return instrument is NoOpInstrument || instrument is NoOpTracer || instrument is any Tracer ? nil : instrument
    }
}

extension ServiceContext {
    /// The W3C trace context (`traceparent`, `tracestate`) that ``W3CTraceContextPropagation`` took
    /// from a request, or that the caller set for outgoing requests.
    public var w3cTraceContext: TraceContext? {
        get { self[W3CTraceContextKey.self] }
        set { self[W3CTraceContextKey.self] = newValue }
    }
}

private enum W3CTraceContextKey: ServiceContextKey {
    typealias Value = TraceContext
    static var nameOverride: String? { "w3c-trace-context" }
}

/// W3C Trace Context propagation (`traceparent` and `tracestate`, parsed by swift-w3c-trace-context),
/// for services that pass a trace on without recording spans: set it as the server's and the
/// client's `propagation` (or bootstrap it with `InstrumentationSystem.bootstrap`), and a request's
/// trace context is current (``ServiceContextModule/ServiceContext/w3cTraceContext``) while its
/// handler runs and goes out with every ``HTTPClient`` request made meanwhile.
///
/// A malformed `traceparent` is ignored (the W3C rule: start afresh); `tracestate` is kept only with a
/// valid `traceparent`. With a tracer that records (swift-otel's speaks W3C), the tracer propagates
/// instead.
public struct W3CTraceContextPropagation: Instrument {
    /// The propagation.
    public init() {}

    public func extract<Carrier, Extract>(
        _ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract
    ) where Extract: Extractor, Extract.Carrier == Carrier {
        guard let parent = extractor.extract(key: "traceparent", from: carrier) else { return }
        let state = extractor.extract(key: "tracestate", from: carrier)
        guard let trace = try? TraceContext(traceParentHeaderValue: parent, traceStateHeaderValue: state) else { return }
        context.w3cTraceContext = trace
    }

    public func inject<Carrier, Inject>(
        _ context: ServiceContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject: Injector, Inject.Carrier == Carrier {
        guard let trace = context.w3cTraceContext else { return }
        injector.inject(trace.traceParentHeaderValue, forKey: "traceparent", into: &carrier)
        if let state = trace.traceStateHeaderValue, !state.isEmpty {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }
}
