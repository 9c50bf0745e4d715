// swift-tools-version:6.2
import Foundation
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-rtm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rtm", targets: ["rtm"]),
        .library(name: "RTMClient", targets: ["RTMClient"]),
        .library(name: "AgoraToken", targets: ["AgoraToken"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(
            name: "AgoraToken",
            dependencies: [
                "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "RTMProtocol", swiftSettings: swiftSettings),
        .target(
            name: "RTMStoreSQLite",
            dependencies: [
                "RTMCore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMStorePostgres",
            dependencies: [
                "RTMCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "RTMCluster", dependencies: ["RTMCore"], swiftSettings: swiftSettings),
        .target(
            name: "RTMClusterPostgres",
            dependencies: [
                "RTMCluster", "RTMCore", "RTMStorePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMHTTPAPI",
            dependencies: [
                "RTMCore", "RTMProtocol", "AgoraToken",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMGateway",
            dependencies: [
                "RTMCore", "RTMProtocol", "AgoraToken",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMServer",
            dependencies: [
                "RTMCore", "RTMProtocol", "AgoraToken", "RTMStoreSQLite", "RTMStorePostgres", "RTMHTTPAPI", "RTMGateway",
                "RTMCluster", "RTMClusterPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMClient",
            dependencies: [
                "RTMProtocol",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "rtm",
            dependencies: [
                "RTMServer", "RTMClient", "AgoraToken", "RTMCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "rtm-bench",
            dependencies: [
                "RTMClient", "RTMCore", "AgoraToken",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RTMFuzzing",
            dependencies: [
                "AgoraToken", "RTMCore", "RTMProtocol", "RTMHTTPAPI", "RTMGateway",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tests: one target per module, a live end-to-end target (real servers, sockets and clients),
        // and the helpers they share (bounded waits, payload samples, the store backends).
        .target(
            name: "RTMTestSupport",
            dependencies: [
                "RTMCore", "RTMStoreSQLite", "RTMStorePostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/RTMTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AgoraTokenTests", dependencies: ["AgoraToken"], swiftSettings: swiftSettings),
        .testTarget(name: "RTMProtocolTests", dependencies: ["RTMProtocol", "RTMTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RTMCoreTests",
            dependencies: ["RTMCore", "RTMTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RTMGatewayTests",
            dependencies: [
                "RTMGateway", "RTMCore", "RTMProtocol", "AgoraToken", "RTMTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RTMHTTPAPITests",
            dependencies: [
                "RTMHTTPAPI", "RTMCore", "RTMGateway", "AgoraToken", "RTMTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RTMStoreTests",
            dependencies: [
                "RTMCore", "RTMStoreSQLite", "RTMStorePostgres", "RTMTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),   // the migration tests write databases of earlier schemas
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RTMClientTests", dependencies: ["RTMClient", "RTMProtocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RTMServerTests",
            dependencies: ["RTMServer", "RTMCore", .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RTMClusterTests", dependencies: ["RTMCluster", "RTMCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RTMClusterPostgresTests",
            dependencies: [
                "RTMCluster", "RTMClusterPostgres", "RTMCore", "RTMStorePostgres", "RTMTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "RTMFuzzingTests", dependencies: ["RTMFuzzing"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RTMLiveTests",
            dependencies: [
                "AgoraToken", "RTMCore", "RTMProtocol", "RTMStorePostgres", "RTMGateway", "RTMServer", "RTMClient",
                "RTMTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// Micro-benchmarks (ordo-one/benchmark) only when asked, so the normal build and tests stay fast:
//   RTM_MICROBENCHMARKS=1 swift package --scratch-path .build-micro --disable-sandbox benchmark
if ProcessInfo.processInfo.environment["RTM_MICROBENCHMARKS"] == "1" {
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "RTMMicro",
            dependencies: [
                "AgoraToken", "RTMCore", "RTMGateway", "RTMProtocol",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RTMMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}

// The libFuzzer binary (Fuzz/Targets) only when asked: its one file defines LLVMFuzzerTestOneInput and no
// `main` (libFuzzer brings it), so it would not link in the normal build. scripts/fuzz.sh builds it:
//   RTM_FUZZ=1 swift build --product rtm-fuzz-target --scratch-path .build-fuzz \
//     --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address
if ProcessInfo.processInfo.environment["RTM_FUZZ"] == "1" {
    package.products.append(.executable(name: "rtm-fuzz-target", targets: ["rtm-fuzz-target"]))
    package.targets.append(
        .executableTarget(
            name: "rtm-fuzz-target",
            dependencies: ["RTMFuzzing"],
            path: "Fuzz/Targets/rtm-fuzz-target",
            swiftSettings: swiftSettings
        ))
}
