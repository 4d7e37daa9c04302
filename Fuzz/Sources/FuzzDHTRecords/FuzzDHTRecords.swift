import CohortBase
import Foundation
import FuzzSupport
import DHT
import Wire

/// Decodes arbitrary bytes as a STORE request and passes its records through a node's record
/// store, as a node does with a store from the network. The first 8 input bytes are the clock
/// (so expiry windows are reached) and one more byte picks tight or default store limits.
/// Any crash, hang or sanitizer report is a bug; thrown `WireError`s are expected.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDHTRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard bytes.count >= 9 else { return 0 }
    let milliseconds = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    // Only the wall clock comes from the input: it is the one a peer's records are checked against.
    let now = ClockReading(monotonic: .zero, wall: WallClockInstant(millisecondsSinceEpoch: milliseconds))
    var limits = RecordStore.Limits()
    if bytes[8] & 1 == 1 {
        limits.maxRecords = 2
        limits.maxValueBytes = 16
        limits.maxSubkeyBytes = 4
        limits.maxLifetime = .seconds(1)
        limits.maxRecordsPerOwner = 1
        limits.maxBytesPerOwner = 24
    }
    let payload = Array(bytes[9...])
    guard case .store(let request)? = try? DHTMessage(frame: Frame(type: .store, requestID: 1, payload: payload)) else { return 0 }
    var store = RecordStore(limits: limits)
    var statuses: [StoreStatus] = []
    for record in request.records {
        let status = store.store(record, now: now.wall)
        precondition(status == .stored || status == RecordStore.validate(record, now: now.wall, limits: limits) || status == .notOwner
                     || status == .stale || status == .storeFull || status == .ownerFull, "unexpected status \(status)")
        statuses.append(status)
        _ = record.ownerID
    }
    // The acknowledgement must encode and decode like any other message.
    let ack = DHTMessage.storeAck(statuses)
    precondition((try? DHTMessage(frame: Frame(type: .storeAck, requestID: 1, payload: ack.encodedPayload()))) == ack)
    precondition(store.count <= limits.maxRecords)
    for owner in Set(request.records.map(\.ownerPublicKey)) {
        let usage = store.usage(of: owner)
        precondition(usage.records <= limits.maxRecordsPerOwner && usage.bytes <= limits.maxBytesPerOwner)
    }
    for key in store.keys {
        let held = store.records(under: key, now: now.wall)
        precondition(RecordStore.merge(held + request.records.filter { $0.key == key }).count >= held.count)
    }
    store.removeExpired(now: WallClockInstant(millisecondsSinceEpoch: milliseconds &+ UInt64(limits.maxLifetime.wholeMilliseconds)))

    // The same request through a node, then a FIND_VALUE for each key: every reply must encode
    // to a payload that decodes to itself (a node must never answer what it cannot send).
    var settings = DHTNode.Settings()
    settings.recordLimits = limits
    let ownID = PeerID(words: (1, 2, 3, 4))
    var node = DHTNode(ownID: ownID, ownContact: Contact(id: ownID, endpoint: Endpoint(host: "10.0.0.9", port: 4000)),
                       settings: settings, seed: 1, now: now.monotonic)
    let requester = PeerID(words: (5, 6, 7, 8))
    var replies = node.onRequest(.store(request), requestID: 1, from: requester, now: now)
    for key in Set(request.records.map(\.key)) {
        replies += node.onRequest(.findValue(.init(sender: request.sender, key: key)), requestID: 2, from: requester, now: now)
    }
    for case .reply(let reply, _) in replies {
        let decoded = try? DHTMessage(frame: Frame(type: reply.type, requestID: 1, payload: reply.encodedPayload()))
        precondition(decoded == reply, "node reply \(reply.type) does not survive encoding")
    }
    return 0
}

/// SwiftPM links executables with `main` aliased to `<Target>_main`; this is it.
@_cdecl("FuzzDHTRecords_main")
public func fuzzDHTRecordsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc: argc, argv: argv, test: fuzzDHTRecords, seeds: seeds)
}

/// Stores of signed records (valid, expired, with a bad signature, two writers of one subkey)
/// at a fixed clock, under both store limits; `runFuzzer` adds truncated copies when it writes the corpus.
private func seeds() -> [FuzzSeed] {
    var generator = SeededGenerator(state: 1)
    let alice = PeerIdentity(using: &generator), bob = PeerIdentity(using: &generator)
    let now: UInt64 = 1_790_000_000_000
    let key = RecordKey(hashing: "cohort/fuzz/progress")
    let sender = Contact(id: alice.peerID, endpoint: Endpoint(host: "10.0.0.1", port: 4000))
    let fresh = alice.signRecord(key: key, subkey: [1, 2], value: Array("hello".utf8), expiry: now + 60_000)
    let later = alice.signRecord(key: key, subkey: [1, 2], value: Array("hello again".utf8), expiry: now + 120_000)
    let rival = bob.signRecord(key: key, subkey: [1, 2], value: Array("mine".utf8), expiry: now + 90_000)
    let expired = bob.signRecord(key: key, subkey: [3], value: [9], expiry: now - 1)
    var forged = bob.signRecord(key: RecordKey(hashing: "other"), subkey: [], value: [1, 2, 3], expiry: now + 500)
    forged.value = [1, 2, 4]
    func input(_ records: [SignedRecord], tight: Bool = false, sender: Contact? = sender) -> [UInt8] {
        withUnsafeBytes(of: now.littleEndian, Array.init) + [tight ? 1 : 0]
            + DHTMessage.store(.init(sender: sender, records: records)).encodedPayload()
    }
    return [
        ("one", input([fresh])),
        ("update-and-rival", input([fresh, later, rival])),
        ("expired-forged", input([expired, forged], sender: nil)),
        ("tight-limits", input([fresh, rival, expired, forged], tight: true)),
    ]
}

/// SplitMix64, so the seed identities are the same on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
