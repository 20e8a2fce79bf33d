// swift-tools-version:6.2
import PackageDescription

// AsyncIO: asyncio for Swift on Linux. Layers point one way:
// CAsyncIOLinux -> AsyncIOSystem -> AsyncIO -> (AsyncIOHTTP) -> aio / Examples.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The asyncio tutorials' programs, one executable each (Examples/<name>/main.swift); the tests run them.
let examples: [(name: String, http: Bool)] = [
    ("EchoSockets", false), ("Coroutines", false), ("ChatReplyServer", false), ("StructuredConcurrency", false),
    ("RawHTTPGet", false), ("CallbacksToAsync", false), ("AsyncFiles", false), ("ParallelSubprocesses", false),
    ("WorkQueue", false), ("SyncPrimitives", false), ("FetchTitles", true), ("OffloadCPU", false),
    ("ThreadSubmit", false), ("GracefulInterrupt", false), ("ServiceGroupServer", true),
]

/// The Swift runtime linked into the executable, in release builds on Linux (what `swift build
/// --static-swift-stdlib` does): a call into it (a reference count, a task switch, the thread's current
/// task) is then a direct call, not one through the PLT and `__tls_get_addr`. `aio serve` spends 3-5 % less
/// CPU a request (BENCHMARKS.md), and the binary runs where no Swift toolchain is installed. The two
/// libraries named are FoundationEssentials' own (for `import FoundationEssentials`): a static archive
/// does not bring its dependencies, and only a module compiled with `-static-stdlib` names them. The
/// linker warns about `mktemp` in FoundationEssentials' archive: the toolchain's code, not called here.
let staticRuntime: [LinkerSetting] = [
    .unsafeFlags(
        ["-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims"],
        .when(platforms: [.linux], configuration: .release)
    ),
]

let package = Package(
    name: "AsyncIO",
    products: [
        .library(name: "AsyncIO", targets: ["AsyncIO"]),
        .library(name: "AsyncIOTesting", targets: ["AsyncIOTesting"]),
        .library(name: "AsyncIOTLS", targets: ["AsyncIOTLS"]),
        .library(name: "AsyncIOHTTP", targets: ["AsyncIOHTTP"]),
        .library(name: "AsyncIOOpenAPI", targets: ["AsyncIOOpenAPI"]),
        .executable(name: "aio", targets: ["aio"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // ServiceGroup start-up and graceful shutdown for the servers (issue 16).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Opt-in metrics of servers and loops (issue 16); the test kit only in tests.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // OpenAPI transports, in a product of their own (issue 16).
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        // Spans for server and client requests, context propagation (issue 16).
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // W3C `traceparent`/`tracestate` parsing for trace context propagation without a tracer.
        .package(url: "https://github.com/swift-otel/swift-w3c-trace-context", from: "1.0.0"),
        // Documentation only: `swift package generate-documentation` (README, Development).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CAsyncIOLinux"),
        .target(name: "AsyncIOSystem", dependencies: ["CAsyncIOLinux"], swiftSettings: strict),
        .target(
            name: "AsyncIO",
            dependencies: [
                "AsyncIOSystem", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            // BuiltinModule: for the continuation primitive alone (Tasks/InheritedContinuation.swift).
            swiftSettings: strict + [.enableExperimentalFeature("BuiltinModule")]
        ),
        // OpenSSL 3 from the system (apt libssl-dev); only AsyncIOTLS sees it.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Async functions run on their caller's executor (the loop), like AsyncIO's and AsyncIOHTTP's.
        .target(
            name: "AsyncIOTLS", dependencies: ["AsyncIO", "AsyncIOSystem", "COpenSSL"],
            swiftSettings: strict + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // zlib and brotli's decoder from the system; only AsyncIOHTTP sees them (content codings).
        .systemLibrary(name: "CCompression", providers: [.apt(["zlib1g-dev", "libbrotli-dev"])]),
        .target(
            name: "AsyncIOHTTP",
            dependencies: [
                "AsyncIO", "AsyncIOSystem", "AsyncIOTLS", "CCompression",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
            ],
            // Async functions run on their caller's executor (the loop) instead of hopping to the
            // generic one and back at every call: 4 % of the server's CPU (BENCHMARKS.md).
            swiftSettings: strict + [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        .target(name: "AsyncIOTesting", dependencies: ["AsyncIO", "AsyncIOSystem"], swiftSettings: strict),
        // swift-openapi-runtime transports on HTTPClient and HTTPRouter: the core never depends on OpenAPI.
        .target(
            name: "AsyncIOOpenAPI",
            dependencies: [
                "AsyncIO", "AsyncIOHTTP",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "aio",
            dependencies: [
                "AsyncIO", "AsyncIOSystem", "AsyncIOTLS", "AsyncIOHTTP",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            linkerSettings: staticRuntime
        ),

        // Examples: every one is built by CI (and run by the tests as their issues land).
        .executableTarget(name: "Hello", dependencies: ["AsyncIO"], path: "Examples/Hello", swiftSettings: strict),
    ] + examples.map { example in
        .executableTarget(
            name: example.name,
            dependencies: ["AsyncIO", "AsyncIOSystem"] + (example.http ? [
                "AsyncIOHTTP", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ] : []),
            path: "Examples/\(example.name)",
            swiftSettings: strict
        )
    } + [

        // An OpenAPI service: code generated once from openapi.yaml (committed; the build never runs
        // the generator), served and called through AsyncIOOpenAPI's transports.
        .executableTarget(
            name: "PetStore",
            dependencies: [
                "AsyncIO", "AsyncIOHTTP", "AsyncIOOpenAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Examples/PetStore",
            exclude: ["openapi.yaml", "openapi-generator-config.yaml"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),

        // Benchmarks: `Benchmarks/run-loop-benchmarks.sh` runs them with the peers; see BENCHMARKS.md.
        .target(name: "CMallocCounter", path: "Benchmarks/CMallocCounter"),
        .target(name: "BenchmarkHarness", dependencies: ["CMallocCounter"], path: "Benchmarks/BenchmarkHarness",
                swiftSettings: strict),
        .executableTarget(
            name: "LoopBenchmarks",
            dependencies: ["AsyncIO", "AsyncIOSystem", "BenchmarkHarness"],
            path: "Benchmarks/LoopBenchmarks",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "BatteryBenchmarks",
            dependencies: ["AsyncIO", "AsyncIOSystem", "BenchmarkHarness"],
            path: "Benchmarks/BatteryBenchmarks",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "DefaultExecutorBenchmarks",
            dependencies: ["AsyncIOSystem", "BenchmarkHarness"],
            path: "Benchmarks/DefaultExecutorBenchmarks",
            swiftSettings: strict
        ),

        .executableTarget(
            name: "HTTPFloor", dependencies: ["AsyncIO"], path: "Benchmarks/HTTPFloor", swiftSettings: strict,
            linkerSettings: staticRuntime  // as aio's: the floor under it is measured the same way
        ),
        .executableTarget(
            name: "HTTPClientBenchmark",
            dependencies: [
                "AsyncIO", "AsyncIOSystem", "AsyncIOHTTP", .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Benchmarks/HTTPClientBenchmark",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "MetricsServerBenchmark",
            dependencies: [
                "AsyncIO", "AsyncIOHTTP", .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            path: "Benchmarks/MetricsServerBenchmark",
            swiftSettings: strict
        ),

        .testTarget(name: "AsyncIOSystemTests", dependencies: ["AsyncIOSystem", "CAsyncIOLinux"], swiftSettings: strict),
        .testTarget(
            name: "AsyncIOTests",
            dependencies: [
                "AsyncIO", "AsyncIOTesting", "AsyncIOSystem", "AsyncIOTLS",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AsyncIOTLSTests",
            dependencies: [
                "AsyncIO", "AsyncIOTesting", "AsyncIOSystem", "AsyncIOTLS", "AsyncIOHTTP",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AsyncIOHTTPTests",
            dependencies: [
                "AsyncIO", "AsyncIOTesting", "AsyncIOSystem", "AsyncIOHTTP",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "W3CTraceContext", package: "swift-w3c-trace-context"),
                "AsyncIOOpenAPI", .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            swiftSettings: strict
        ),
        // Every Swift code block of the README, the DocC catalogs and the doc comments, generated by
        // Scripts/doc-snippets.py: a doc example that stops compiling fails the build.
        .testTarget(
            name: "DocSnippetTests",
            dependencies: [
                "AsyncIO", "AsyncIOTesting", "AsyncIOTLS", "AsyncIOHTTP", "AsyncIOOpenAPI",
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            // Doc fragments bind values they do not use (`let line = ...`): those warnings say nothing.
            swiftSettings: strict + [.unsafeFlags(["-suppress-warnings"])]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["AsyncIO", "AsyncIOTesting", "AsyncIOSystem", "AsyncIOTLS", "aio", "Hello"]
                + examples.map { .target(name: $0.name) },
            swiftSettings: strict
        ),
    ]
)
