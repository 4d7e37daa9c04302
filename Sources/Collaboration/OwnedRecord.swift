import CohortBase
import DHT
import Wire

/// A record's value with the peer that wrote it.
///
/// Only records under their writer's own subkey become one (`SignedRecord.isUnderOwnersSubkey`):
/// keys where every peer writes one record about itself would otherwise let anyone speak for
/// another peer, or give one writer several votes. Decoding and this check happen once, where
/// records arrive; the run's logic works on the values.
public struct OwnedRecord<Value: Sendable>: Sendable {
    public var writer: PeerID
    public var value: Value

    public init(writer: PeerID, value: Value) {
        self.writer = writer
        self.value = value
    }

    /// The records among `records` that sit under their writer's subkey and decode.
    public static func decoding(_ records: [SignedRecord], with decode: ([UInt8]) throws -> Value) -> [OwnedRecord] {
        records.compactMap { record in
            guard record.isUnderOwnersSubkey, let value = try? decode(record.value) else { return nil }
            return OwnedRecord(writer: record.ownerID, value: value)
        }
    }
}

extension OwnedRecord: Equatable where Value: Equatable {}
