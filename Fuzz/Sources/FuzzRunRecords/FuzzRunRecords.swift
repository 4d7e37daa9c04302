import Foundation
import FuzzSupport
import Collaboration

/// Decodes arbitrary bytes as each record a run publishes in the DHT (the first input byte picks
/// which): peer progress, state announcements and round reports. Whatever decodes must re-encode
/// to the same bytes. Any crash, hang or sanitizer report is a bug; thrown errors are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRunRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let record = Array(bytes.dropFirst())
    switch selector % 3 {
    case 0:
        guard let progress = try? PeerProgress(decoding: record) else { return 0 }
        precondition(progress.encoded == record, "progress encoding is not canonical: \(progress)")
    case 1:
        guard let announcement = try? StateAnnouncement(decoding: record) else { return 0 }
        precondition(announcement.encoded == record, "state announcement encoding is not canonical: \(announcement)")
        _ = announcement.servesState
    default:
        guard let report = try? RoundReport(decoding: record) else { return 0 }
        precondition(report.encoded == record, "round report encoding is not canonical: \(report)")
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzRunRecords_main")
public func fuzzRunRecordsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzRunRecords, seeds: seeds)
}

/// Valid records of each kind; `runFuzzer` adds truncated copies when it writes the corpus.
private func seeds() -> [FuzzSeed] {
    [
        ("progress", [0] + PeerProgress(step: 12, samplesAccumulated: 48, samplesPerSecond: 31.5, loss: 2.25, timestampMilliseconds: 1_790_000_000_000).encoded),
        ("progress-client", [0] + PeerProgress(step: 0, samplesAccumulated: 0, samplesPerSecond: 0, loss: .infinity, timestampMilliseconds: 0, clientMode: true).encoded),
        ("state", [1] + StateAnnouncement(step: 12, stateHash: (0..<32).map { UInt8($0 * 7) }, stateBytes: 1 << 20, host: "10.0.0.3", port: 4100, timestampMilliseconds: 1_790_000_000_000).encoded),
        ("state-client", [1] + StateAnnouncement(step: 3, stateHash: [UInt8](repeating: 1, count: 32), stateBytes: 0, host: "", port: 0, timestampMilliseconds: 5).encoded),
        ("round-report", [2] + RoundReport(step: 12, members: 3, samples: 192, durationSeconds: 1.5, loss: 2.1, bytesSent: 4096, bytesReceived: 8192, failedParts: 0).encoded),
        ("round-report-note", [2] + RoundReport(step: 13, members: 1, samples: 64, durationSeconds: 0, loss: 2, bytesSent: 0, bytesReceived: 0, failedParts: 1, note: "no other peer declared step 13 — averaged alone").encoded),
    ]
}
