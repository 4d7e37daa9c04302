// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Cohort",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "cohort", targets: ["cohort"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
        .target(name: "Averaging"),
        .executableTarget(
            name: "cohort",
            dependencies: [
                "Trainer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            resources: [.copy("Resources/tinyshakespeare.txt")]
        ),
        .testTarget(
            name: "TrainerTests",
            dependencies: ["Trainer"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "AveragingTests", dependencies: ["Averaging"]),
    ]
)
