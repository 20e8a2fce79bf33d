// swift-tools-version:6.1
import PackageDescription

// The swift-server/async-http-client peer for Benchmarks/run-client-benchmarks.py. A package of its own,
// so the main package (and CI) never builds async-http-client.
let package = Package(
    name: "ahc-client",
    dependencies: [
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        // For BENCH_CA_FILE (HTTPS runs): its TLSConfiguration.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .executableTarget(
            name: "ahc-client",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
