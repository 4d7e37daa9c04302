import Admission
import CohortBase
import DHT
import Foundation
import Logging
import Node

/// Keeps the run's revocation list in force: reads the coordinator's `revocations` file (which
/// `cohort token revoke` rewrites), applies a new list to the coordinator's own node, and
/// stores it in the DHT, again every few minutes so that it outlives restarts of holders.
///
/// The list is stored with nearly the DHT's longest lifetime, so peers keep receiving it for
/// almost a day while the coordinator is down.
struct RevocationPublisher {
    let file: URL
    let key: RecordKey
    /// Republishing interval; each put also replaces the held record with a later expiry.
    var republishEvery: TimeInterval = 300
    /// Record lifetime: 23 h, under the DHT's 24 h maximum with room for clock skew.
    var lifetime: Duration = .seconds(23 * 3600)
    private var published: RevocationList?
    private var lastPublished = Date.distantPast
    private var lastFileBytes: [UInt8]?

    init(file: URL, runName: String) {
        self.file = file
        key = RecordKey(hashing: RevocationList.recordName(runName: runName))
    }

    /// Picks up a changed file and (re)publishes the newest list when it is due.
    mutating func poll(dht: DHTService, logger: Logger) async {
        if let bytes = FileManager.default.contents(atPath: file.path).map(Array.init), bytes != lastFileBytes {
            lastFileBytes = bytes
            await adopt(bytes, dht: dht, logger: logger)
        }
        guard let published, Date().timeIntervalSince(lastPublished) >= republishEvery else { return }
        do {
            _ = try await dht.put(key: key, subkey: [], value: published.encoded, expiresAt: SystemClock().now().wall + lifetime)
            lastPublished = Date()
        } catch {
            logger.warning("could not publish the revocation list", metadata: ["reason": "\(error)"])
        }
    }

    private mutating func adopt(_ bytes: [UInt8], dht: DHTService, logger: Logger) async {
        do {
            let list = try RevocationList(text: bytes)
            guard try await dht.applyRevocations(list) else { return }
            published = list
            lastPublished = .distantPast
            logger.info("revocation list in force", metadata: ["sequence": "\(list.contents.sequence)",
                                                               "revoked": "\(list.contents.revokedKeys.count)"])
        } catch {
            logger.error("ignoring the revocation file", metadata: ["path": "\(file.path)", "reason": "\(error)"])
        }
    }
}
