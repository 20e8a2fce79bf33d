// swift-tools-version:6.0
import PackageDescription

// The Hummingbird peer of Benchmarks/json-roundtrip.py. A package of its own, so the main package (and
// CI) never builds Hummingbird.
let package = Package(
    name: "hb-json",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
    ],
    targets: [
        .executableTarget(
            name: "hb-json",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
