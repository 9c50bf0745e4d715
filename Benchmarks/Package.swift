// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark), kept in their own package so the main build and tests stay fast.
// Run: cd Benchmarks && swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "swift-rtm-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "RTMMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "AgoraToken", package: "swift-rtm"),
                .product(name: "RTMCore", package: "swift-rtm"),
                .product(name: "RTMGateway", package: "swift-rtm"),
                .product(name: "RTMClient", package: "swift-rtm"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/RTMMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
