// swift-tools-version:5.9
// libFuzzer targets for Cohort's decoders, kept out of the main package's build.
// Build and run them with scripts/fuzz.sh.
import Foundation
import PackageDescription

/// A path dependency is named after its directory, which differs between checkouts.
let rootPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "CohortFuzz",
    dependencies: [.package(path: "../")],
    targets: ["FuzzFrameDecoder", "FuzzDHTMessage"].map { name in
        .executableTarget(name: name, dependencies: [.product(name: "Wire", package: rootPackage)])
    }
)
