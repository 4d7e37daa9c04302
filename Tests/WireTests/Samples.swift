import CohortBase
import Wire

/// Messages and frames that cover every message type and field shape.
enum Samples {
    static func id(_ seed: UInt8) -> DHTID {
        DHTID(bytes: (0..<32).map { seed &+ UInt8($0) })!
    }

    static func peer(_ seed: UInt8) -> PeerID {
        PeerID(bytes: (0..<32).map { seed &+ UInt8($0) })!
    }

    static let contact = Contact(id: peer(1), endpoint: Endpoint(host: "203.0.113.5", port: 7000))
    static let ipv6Contact = Contact(id: peer(9), endpoint: Endpoint(host: "2001:db8::1", port: 65535))

    static let record = SignedRecord(
        key: id(3), subkey: Array("peer-a".utf8), value: [1, 2, 3, 255], expiry: 1_800_000_000_000,
        ownerPublicKey: Array(repeating: 7, count: 32), signature: Array(repeating: 8, count: 64))
    static let emptyRecord = SignedRecord(
        key: id(4), subkey: [], value: [], expiry: 0,
        ownerPublicKey: Array(repeating: 0, count: 32), signature: Array(repeating: 0, count: 64))

    static let messages: [DHTMessage] = [
        .ping(sender: contact),
        .ping(sender: nil),
        .pong,
        .findNode(.init(sender: contact, target: id(5))),
        .findNode(.init(sender: nil, target: id(6))),
        .foundNodes([]),
        .foundNodes([contact, ipv6Contact]),
        .findValue(.init(sender: ipv6Contact, key: id(7))),
        .value(.init(records: [], closer: [contact])),
        .value(.init(records: [record, emptyRecord], closer: [])),
        .store(.init(sender: contact, records: [record])),
        .store(.init(sender: nil, records: [])),
        .storeAck([.stored, .badSignature, .notOwner, StoreStatus(rawValue: 200)]),
        .error(.init(code: 3, message: "störe full")),
    ]

    static func frames() -> [Frame] {
        messages.enumerated().map { index, message in message.frame(requestID: UInt64(index) &* 0x0123_4567_89AB) }
    }
}
