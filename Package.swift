// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Cohort",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cohort", targets: ["cohort"]),
        .library(name: "Wire", targets: ["Wire"]),
        // Used by the fuzz package in Fuzz/ (scripts/fuzz.sh).
        .library(name: "DHT", targets: ["DHT"]),
        .library(name: "Trainer", targets: ["Trainer"]),
        .library(name: "Averaging", targets: ["Averaging"]),
        .library(name: "Collaboration", targets: ["Collaboration"]),
        .library(name: "Admission", targets: ["Admission"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // The ONNX schema's generated messages; only the runtime library, never its protoc
        // plugin (scripts/onnx/generate-proto.sh regenerates Sources/ONNXExport/Generated).
        // At least the plugin version that generated them: older runtimes lack the APIs
        // (bytecode name maps) the generated code calls.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "Trainer",
            dependencies: ["COpenBLAS"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // `cohort experiment`: studies that check the papers' claims on Cohort's trainer.
        .target(name: "Experiments", dependencies: ["Trainer"]),
        // The CUDA trainer: the driver, NVRTC and cuBLAS loaded at run time (no build-time
        // CUDA), its kernels as CUDA C compiled for the device at hand (docs/cuda.md).
        .target(name: "CUDABackend", dependencies: ["Trainer"]),
        // The vocabulary every protocol layer shares: peer ids, wall-clock and monotonic
        // instants, the clock that gives both, and the protocol's timings.
        .target(name: "CohortBase"),
        .target(name: "Averaging", dependencies: ["CohortBase", "CAveragingKernels"]),
        // A trained checkpoint as an ONNX graph (docs/onnx.md).
        .target(
            name: "ONNXExport",
            dependencies: ["Trainer", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "Collaboration",
            dependencies: ["Trainer", "Averaging", "DHT", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "Simulation",
            dependencies: ["Collaboration", "Averaging", "DHT", "Trainer", "Wire"]
        ),
        .executableTarget(
            name: "cohort",
            dependencies: [
                "Trainer", "Wire", "DHT", "Averaging", "Collaboration", "Admission", "Node", "StateSync", "Peer", "Coordinator", "Simulation",
                "ONNXExport", "CUDABackend",
                "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/tinyshakespeare.txt")]
        ),
        .target(
            name: "Admission",
            dependencies: ["Wire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(name: "CCRC32C"),
        .target(name: "CAveragingKernels"),
        .target(name: "CProcessMemory"),
        .target(name: "Wire", dependencies: ["CohortBase", "CCRC32C"]),
        .target(
            name: "DHT",
            dependencies: ["Wire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "Coordinator",
            dependencies: [
                "StateSync", "Node", "Admission", "Collaboration", "Averaging", "Trainer", "DHT", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Serving and fetching training states and replayed updates, for peers and the
        // coordinator alike.
        .target(
            name: "StateSync",
            dependencies: [
                "Node", "Collaboration", "Averaging", "DHT", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Peer",
            dependencies: [
                "Node", "StateSync", "Admission", "Collaboration", "Averaging", "Trainer", "DHT", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Node",
            dependencies: [
                "Wire", "DHT", "Admission", "CProcessMemory",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CohortBaseTests", dependencies: ["CohortBase"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "DHTTests", dependencies: ["DHT"]),
        // Depends on `cohort` so that building the tests builds the live peer LivePeerGarbageTests runs.
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "cohort", "CohortProcessSupport", "Node", "Wire", "DHT", "Admission",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Trainer"]),
        .testTarget(name: "CUDABackendTests", dependencies: ["CUDABackend", "CUDAEmulation", "Trainer"]),
        .testTarget(
            name: "TrainerTests",
            dependencies: ["Trainer"],
            resources: [.copy("Fixtures")]
        ),
        // Trainer: the Byzantine-peer test trains a tiny model through simulated rounds.
        .testTarget(name: "AveragingTests", dependencies: ["Averaging", "Trainer"]),
        .testTarget(
            name: "AdmissionTests",
            dependencies: ["Admission", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["Simulation", "DHT"]
        ),
        .testTarget(
            name: "CollaborationTests",
            dependencies: ["Collaboration", "DHT", "Wire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Downloads of training states over real sockets, with lying donors.
        .testTarget(
            name: "PeerTests",
            dependencies: [
                "Peer", "StateSync", "Node", "Collaboration", "Averaging", "DHT", "Trainer", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "CoordinatorTests",
            dependencies: [
                "Coordinator", "Collaboration", "Averaging", "DHT", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "AllReduceProcessTests"),
        // Depends on `cohort` so that building the tests builds the executable it exports with.
        .testTarget(
            name: "ONNXExportTests",
            dependencies: ["ONNXExport", "Trainer", "cohort", "CohortProcessSupport"]
        ),
        .testTarget(
            name: "CohortCommandTests",
            dependencies: ["cohort", "CohortProcessSupport", "CUDAEmulation"]
        ),
        // The red-team suite (`make attacks`): real coordinator and peers against a hostile
        // peer built only for it, never part of the `cohort` binary.
        .executableTarget(
            name: "cohort-attacker",
            dependencies: [
                "Peer", "StateSync", "Node", "Collaboration", "Averaging", "Trainer", "DHT", "Wire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Attacker"
        ),
        .testTarget(
            name: "AttackTests",
            dependencies: ["cohort", "cohort-attacker", "CohortProcessSupport"]
        ),
        // `cohort` children for the end-to-end tests of NodeTests and CohortCommandTests.
        .target(name: "CohortProcessSupport", path: "Tests/CohortProcessSupport"),
        // The CUDA kernels compiled for the CPU, and stand-ins for the CUDA libraries over them,
        // so that tests run the CUDA trainer on machines without a GPU (CUDABackendTests, and the
        // `cohort` children of CohortCommandTests).
        .target(name: "CUDAEmulation", dependencies: ["CUDABackend"], path: "Tests/CUDAEmulation"),
        // Parses deploy/ (compose, Kubernetes, systemd, Dockerfile) and checks every `cohort`
        // command line in it against the built executable's --help. Depends on `cohort` only so
        // that building the tests builds the executable it runs.
        .testTarget(
            name: "DeployTests",
            dependencies: ["cohort", .product(name: "Yams", package: "Yams")]
        ),
    ]
)
