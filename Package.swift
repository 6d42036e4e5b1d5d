// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Weft",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "weftd", targets: ["weftd"]),
        .executable(name: "weft-node", targets: ["weft-node"]),
        .executable(name: "weftctl", targets: ["weftctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Without the default trait BinaryDelimitedStreams, whose Foundation streams would link full Foundation (and
        // ICU) into weft-node.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C shims: each C library is wrapped once, here; used by WeftCapture (netfilter, sock_diag) and WeftNode (the
        // hand-over's SCM_RIGHTS).
        .target(
            name: "CNetfilter",
            linkerSettings: [.linkedLibrary("nftnl"), .linkedLibrary("mnl")]
        ),
        .target(name: "CLinuxNet"),

        .target(name: "WeftCore"),
        // --log-level / --log-format for every executable: text or JSON lines.
        .target(name: "WeftLogging", dependencies: ["WeftCore", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "WeftIdentity",
            dependencies: [
                "WeftCore",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // The node API's schema (.proto) and its generated code (Scripts/generate-node-api), and the admin API's
        // OpenAPI document.
        .target(
            name: "WeftAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["node_api.proto", "openapi.yaml"]
        ),
        .target(
            name: "WeftControlPlane",
            dependencies: [
                "WeftCore", "WeftIdentity", "WeftAPI", "WeftLogging", "WeftSystemd",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The admin API's client, shared by weftctl and the tests.
        .target(
            name: "WeftAdminClient",
            dependencies: [
                "WeftCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WeftCapture",
            dependencies: [
                "WeftCore", "CNetfilter", "CLinuxNet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The data plane: receives config values and credentials; knows nothing of nftables or the control plane.
        .target(
            name: "WeftProxy",
            dependencies: [
                "WeftCore", "WeftIdentity",
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Telling systemd how a process is doing (sd_notify: READY, STOPPING, STATUS, WATCHDOG).
        .target(
            name: "WeftSystemd",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WeftNode",
            dependencies: [
                "WeftCore", "WeftCapture", "WeftProxy", "WeftIdentity", "WeftAPI", "WeftLogging", "WeftSystemd",
                "CLinuxNet",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "weft-node",
            dependencies: [
                "WeftNode", "WeftCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "weftd",
            dependencies: [
                "WeftCore", "WeftControlPlane",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "weftctl",
            dependencies: [
                "WeftCore", "WeftAdminClient", "WeftLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Benchmarks (run by Scripts/bench/*, never by the tests).
        .executableTarget(
            name: "weft-bench-control-plane",
            dependencies: [
                "WeftNode", "WeftAPI", "WeftCore",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/ControlPlaneLoad"
        ),

        // Test support: the lab (network-namespace test hosts) for integration tests.
        .target(
            name: "WeftLabSupport",
            dependencies: ["WeftCore"],
            path: "Tests/WeftLabSupport"
        ),
        .testTarget(name: "WeftCoreTests", dependencies: ["WeftCore"]),
        .testTarget(
            name: "WeftIdentityTests",
            dependencies: [
                "WeftIdentity",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        .testTarget(
            name: "WeftControlPlaneTests",
            dependencies: [
                "WeftControlPlane", "WeftAdminClient", "WeftNode", "WeftIdentity", "WeftAPI", "WeftCore",
                "WeftLabSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "WeftCaptureTests",
            dependencies: [
                "WeftCapture", "WeftLabSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WeftProxyTests",
            dependencies: [
                "WeftProxy",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WeftNodeTests",
            dependencies: [
                "WeftNode", "WeftCore", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WeftSystemdTests",
            dependencies: ["WeftSystemd", "WeftLabSupport", .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "WeftLoggingTests",
            dependencies: ["WeftLogging", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "WeftLabTests",
            dependencies: ["WeftLabSupport", "WeftCapture", "WeftCore"]
        ),
    ]
)
