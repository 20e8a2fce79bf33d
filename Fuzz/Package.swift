// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets, kept out of the main package so `swift build` and CI never need the fuzzer
// runtime. Build and run with `Fuzz/run-http-parser-fuzzer.sh` (see README, Development).
let package = Package(
    name: "AsyncIOFuzz",
    dependencies: [
        .package(name: "AsyncIO", path: ".."),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "HTTPParserFuzzer",
            dependencies: [
                .product(name: "AsyncIOHTTP", package: "AsyncIO"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6), .unsafeFlags(["-parse-as-library"])]
        )
    ]
)
