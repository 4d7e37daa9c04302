import ArgumentParser
import CohortBase
import DHT
import Foundation
import Node
import Wire

/// `cohort dht put KEY VALUE --join HOST:PORT`.
struct DHTPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Store a signed value under KEY through a running node, then print the key's merged subkeys."
    )

    @Argument(help: "Record key name (hashed with SHA-256 into the DHT id space).")
    var key: String

    @Argument(help: "Value (UTF-8 text).")
    var value: String

    @Option(help: "Subkey to write. Default: this writer's peer id in hex.")
    var subkey: String?

    @Option(help: "Seconds until the record expires.")
    var ttl = 3600

    @OptionGroup var options: NodeOptions

    func validate() throws {
        guard !options.join.isEmpty else { throw ValidationError("--join HOST:PORT is required") }
        guard (1...86_400).contains(ttl) else { throw ValidationError("--ttl must be between 1 and 86400 seconds") }
        guard value.utf8.count <= WireLimits.maxValueBytes else { throw ValidationError("value is longer than \(WireLimits.maxValueBytes) bytes") }
        guard (subkey?.utf8.count ?? 0) <= WireLimits.maxSubkeyBytes else {
            throw ValidationError("--subkey is longer than \(WireLimits.maxSubkeyBytes) bytes")
        }
    }

    func run() async throws {
        let recordKey = RecordKey(hashing: key)
        let expiresAt = SystemClock().now().wall + .seconds(ttl)
        let records = try await DHTClient.with(options) { service in
            let subkeyBytes = subkey.map { Array($0.utf8) } ?? Array(service.peerID.bytes.hexString.utf8)
            let outcome = try await service.put(key: recordKey, subkey: subkeyBytes, value: Array(value.utf8), expiresAt: expiresAt)
            print("stored on \(outcome.replicas) of \(outcome.contacted) peers")
            return try await service.get(recordKey)
        }
        DHTGetCommand.printRecords(records, key: key)
    }
}

/// `cohort dht get KEY --join HOST:PORT`.
struct DHTGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Read the merged subkeys under KEY through a running node."
    )

    @Argument(help: "Record key name.")
    var key: String

    @OptionGroup var options: NodeOptions

    func validate() throws {
        guard !options.join.isEmpty else { throw ValidationError("--join HOST:PORT is required") }
    }

    func run() async throws {
        let records = try await DHTClient.with(options) { try await $0.get(RecordKey(hashing: key)) }
        Self.printRecords(records, key: key)
    }

    static func printRecords(_ records: [SignedRecord], key: String) {
        guard !records.isEmpty else {
            print("\(key): no records")
            return
        }
        let now = SystemClock().now().wall
        for record in records {
            let subkey = printable(record.subkey) ?? record.subkey.hexString
            let value = printable(record.value) ?? record.value.hexString
            let seconds = (record.expiresAt - now).components.seconds
            print("\(key)[\(subkey)] = \(value)  (owner \(record.ownerID), expires in \(seconds) s)")
        }
    }

    /// The bytes as text, unless they are not UTF-8 or hold characters that would drive the terminal.
    private static func printable(_ bytes: [UInt8]) -> String? {
        String(validating: bytes, as: UTF8.self).flatMap { PeerText.isSafe($0) ? $0 : nil }
    }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
