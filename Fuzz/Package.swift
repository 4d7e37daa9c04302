// swift-tools-version:5.9
// libFuzzer targets for Cohort's decoders, kept out of the main package's build.
// Build and run them with scripts/fuzz.sh.
import Foundation
import PackageDescription

/// A path dependency is named after its directory, which differs between checkouts.
let rootPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

/// Each target and the Cohort libraries it fuzzes.
let targets: [(name: String, libraries: [String])] = [
    ("FuzzFrameDecoder", ["Wire"]),
    ("FuzzDHTMessage", ["Wire"]),
    ("FuzzDHTRecords", ["Wire", "DHT"]),
    ("FuzzSafeTensors", ["Trainer"]),
    ("FuzzRunConfig", ["Collaboration", "Trainer"]),
    ("FuzzAveragingPayloads", ["Averaging"]),
    ("FuzzRunRecords", ["Collaboration"]),
    ("FuzzAccessToken", ["Admission"]),
]

/// Targets that sign their inputs with a fixed key to reach the checks behind a signature.
let signingTargets: Set = ["FuzzRunConfig", "FuzzAccessToken"]

let package = Package(
    name: "CohortFuzz",
    dependencies: [
        .package(path: "../"),
        // Already a dependency of Cohort; the signing targets sign inputs with it.
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [.target(name: "FuzzSupport")] + targets.map { target in
        .executableTarget(
            name: target.name,
            dependencies: ["FuzzSupport"] + target.libraries.map { .product(name: $0, package: rootPackage) }
                + (signingTargets.contains(target.name) ? [.product(name: "Crypto", package: "swift-crypto")] : [])
        )
    }
)
