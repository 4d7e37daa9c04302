import CohortBase
import DHT
import Testing
import Wire

@Suite struct RecordStoreTests {
    let alice = Fixtures.identities(2, seed: 21)[0]
    let bob = Fixtures.identities(2, seed: 21)[1]
    let key = RecordKey(hashing: "run/test/progress")
    let now: UInt64 = 10_000

    private func record(by identity: PeerIdentity, subkey: String = "a", value: [UInt8] = [1], expiry: UInt64 = 70_000) -> SignedRecord {
        identity.signRecord(key: key, subkey: Array(subkey.utf8), value: value, expiresAt: .at(expiry))
    }

    @Test func peerIDIsTheSHA256OfThePublicKey() {
        #expect(alice.peerID == PeerID(publicKey: alice.publicKey))
        #expect(alice.peerID != bob.peerID)
        #expect(RecordKey(hashing: "abc").bytes.prefix(4) == [0xBA, 0x78, 0x16, 0xBF])
    }

    @Test func signedRecordIsStoredAndReturned() {
        var store = RecordStore()
        let signed = record(by: alice)
        #expect(signed.hasValidSignature)
        #expect(store.store(signed, now: .at(now)) == .stored)
        #expect(store.records(under: key, now: .at(now)) == [signed])
    }

    @Test func tamperedRecordIsRefused() {
        var store = RecordStore()
        for tamper in [{ (r: inout SignedRecord) in r.value = [9] }, { $0.expiry += 1 }, { $0.subkey = [7] },
                       { $0.signature[5] ^= 1 }, { $0.ownerPublicKey = bob.publicKey }, { $0.signature = [] }] {
            var forged = record(by: alice)
            tamper(&forged)
            #expect(store.store(forged, now: .at(now)) == .badSignature)
        }
        #expect(store.count == 0)
    }

    @Test func expiredOversizedAndFarFutureRecordsAreRefused() {
        var limits = RecordStore.Limits()
        limits.maxValueBytes = 8
        limits.maxLifetime = .seconds(100)
        var store = RecordStore(limits: limits)
        #expect(store.store(record(by: alice, expiry: now), now: .at(now)) == .expired)
        #expect(store.store(record(by: alice, value: Array(repeating: 0, count: 9)), now: .at(now)) == .tooLarge)
        #expect(store.store(record(by: alice, subkey: String(repeating: "s", count: 129)), now: .at(now)) == .tooLarge)
        #expect(store.store(record(by: alice, expiry: now + 100_001), now: .at(now)) == .expiryTooFar)
        #expect(store.count == 0)
    }

    @Test func aRecordSignedForAnInstantCarriesItsMillisecondsOnTheWire() {
        let signed = alice.signRecord(key: key, subkey: [1], value: [1], expiresAt: WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000) + .seconds(60))
        #expect(signed.expiry == 1_800_000_060_000)
        #expect(signed.hasValidSignature)
    }

    /// The lifetime check subtracts the reader's time from a peer's expiry: at the end of u64
    /// it must refuse the record, not trap.
    @Test func aRecordExpiringAtTheEndOfU64IsRefusedAsTooFar() {
        var store = RecordStore()
        let farthest = record(by: alice, expiry: .max)
        #expect(farthest.hasValidSignature)
        #expect(store.store(farthest, now: .at(now)) == .expiryTooFar)
    }

    @Test func aSubkeyTakenFirstByAnotherOwnerDoesNotKeepTheRealWriterOut() {
        // Before, the first writer of a subkey held it: anyone could take the run's revocation
        // list subkey before the coordinator, and this node refused the real list.
        var store = RecordStore()
        let squatter = record(by: bob, expiry: 90_000)
        let real = record(by: alice, expiry: 20_000)
        #expect(store.store(squatter, now: .at(now)) == .stored)
        #expect(store.store(real, now: .at(now)) == .stored)
        #expect(Set(store.records(under: key, now: .at(now))) == [squatter, real])
        #expect(store.store(record(by: alice, value: [9], expiry: 15_000), now: .at(now)) == .stale)
    }

    @Test func ownerMayOnlyReplaceWithALaterExpiry() {
        var store = RecordStore()
        let first = record(by: alice, value: [1], expiry: 50_000)
        #expect(store.store(first, now: .at(now)) == .stored)
        #expect(store.store(first, now: .at(now)) == .stored, "the same record again is accepted and changes nothing")
        #expect(store.store(record(by: alice, value: [2], expiry: 50_000), now: .at(now)) == .stale)
        #expect(store.store(record(by: alice, value: [2], expiry: 40_000), now: .at(now)) == .stale)
        let newer = record(by: alice, value: [3], expiry: 60_000)
        #expect(store.store(newer, now: .at(now)) == .stored)
        #expect(store.records(under: key, now: .at(now)) == [newer])
    }

    @Test func getReturnsOnlyUnexpiredSubkeysAndExpiryRemovesTheRest() {
        var store = RecordStore()
        let short = record(by: alice, subkey: "a", expiry: 20_000)
        let long = record(by: bob, subkey: "b", expiry: 40_000)
        _ = store.store(short, now: .at(now))
        _ = store.store(long, now: .at(now))
        #expect(store.records(under: key, now: .at(now)) == [short, long])
        #expect(store.records(under: key, now: .at(20_000)) == [long])
        store.removeExpired(now: .at(20_000))
        #expect(store.count == 1)
        store.removeExpired(now: .at(40_000))
        #expect(store.count == 0 && store.keys.isEmpty)
    }

    @Test func fullStoreRefusesNewSubkeysButAcceptsUpdates() {
        var limits = RecordStore.Limits()
        limits.maxRecords = 1
        var store = RecordStore(limits: limits)
        #expect(store.store(record(by: alice, expiry: 20_000), now: .at(now)) == .stored)
        #expect(store.store(record(by: bob, subkey: "b"), now: .at(now)) == .storeFull)
        #expect(store.store(record(by: alice, expiry: 30_000), now: .at(now)) == .stored)
    }

    @Test func fullStoreRefusesRecordsBeyondItsBytesWhoeverOwnsThem() {
        var limits = RecordStore.Limits()
        limits.maxBytes = 10
        var store = RecordStore(limits: limits)
        #expect(store.store(record(by: alice, subkey: "a", value: [1, 2, 3], expiry: 20_000), now: .at(now)) == .stored)
        #expect(store.store(record(by: bob, subkey: "b", value: [1, 2, 3, 4]), now: .at(now)) == .stored)
        #expect(store.byteCount == 9)
        #expect(store.store(record(by: bob, subkey: "c", value: [1]), now: .at(now)) == .storeFull, "a new record past 10 bytes")
        #expect(store.store(record(by: alice, subkey: "a", value: [1, 2, 3, 4, 5], expiry: 30_000), now: .at(now)) == .storeFull,
                "replacing a record with a larger one past 10 bytes")
        #expect(store.store(record(by: alice, subkey: "a", value: [1, 2, 3, 4], expiry: 30_000), now: .at(now)) == .stored,
                "a replaced record's bytes no longer count")
        #expect(store.byteCount == 10)
        store.removeExpired(now: .at(30_000))
        #expect(store.byteCount == 5, "expired records no longer count")
        #expect(store.store(record(by: bob, subkey: "c", value: [1], expiry: 90_000), now: .at(30_000)) == .stored)
        store.revoke(owners: [bob.publicKey])
        #expect(store.byteCount == 0, "revoked owners' records no longer count")
    }

    @Test func manyOwnersCannotFillTheStoreWithMoreThanItsBytesByDefault() {
        // Before, only records were bounded in total: 100 000 values of 64 KiB from owners each
        // within their share made a volunteer hold 6.4 GB. Every record shares one value buffer.
        let value = [UInt8](repeating: 7, count: WireLimits.maxValueBytes)
        let owners = Fixtures.identities(17, seed: 22)
        var store = RecordStore()
        var status = StoreStatus.stored
        fill: for owner in owners {
            for index in 0..<241 {
                status = store.store(record(by: owner, subkey: "\(index)", value: value), now: .at(now))
                if status != .stored { break fill }
            }
        }
        #expect(status == .storeFull)
        #expect(store.byteCount <= RecordStore.Limits().maxBytes)
        #expect(store.byteCount > RecordStore.Limits().maxBytes - 2 * value.count)
    }

    @Test func aRecordExpiringLaterDoesNotHideAnotherOwnersUnderTheSameSubkey() {
        let real = record(by: alice, subkey: "a", value: [1], expiry: 20_000)
        let shadow = record(by: bob, subkey: "a", value: [2], expiry: 90_000)
        #expect(Set(RecordStore.merge([real, shadow])) == [real, shadow])
    }

    @Test func mergeKeepsTheLatestRecordPerSubkey() {
        let old = record(by: alice, subkey: "a", value: [1], expiry: 20_000)
        let new = record(by: alice, subkey: "a", value: [2], expiry: 30_000)
        let other = record(by: bob, subkey: "b")
        #expect(RecordStore.merge([old, other, new, old]) == [new, other])
        #expect(RecordStore.merge([new, old]) == RecordStore.merge([old, new]))
    }

    @Test func oneOwnerCannotHoldMoreThanItsShareOfRecordsOrBytes() {
        var limits = RecordStore.Limits()
        limits.maxRecordsPerOwner = 2
        limits.maxBytesPerOwner = 12
        var store = RecordStore(limits: limits)
        #expect(store.store(record(by: alice, subkey: "a", value: [1, 2]), now: .at(now)) == .stored)
        #expect(store.store(record(by: alice, subkey: "b", value: [1, 2]), now: .at(now)) == .stored)
        #expect(store.store(record(by: alice, subkey: "c"), now: .at(now)) == .ownerFull, "a third record")
        #expect(store.store(record(by: alice, subkey: "a", value: Array(repeating: 0, count: 9), expiry: 80_000), now: .at(now))
            == .ownerFull, "replacing a record with one that takes the owner past 12 bytes")
        #expect(store.store(record(by: alice, subkey: "a", value: [5, 6, 7], expiry: 80_000), now: .at(now)) == .stored,
                "replacing a record keeps the count")
        #expect(store.usage(of: alice.publicKey) == (records: 2, bytes: 7))
        #expect(store.store(record(by: bob, subkey: "c"), now: .at(now)) == .stored, "the share is per owner")
        store.removeExpired(now: .at(70_000))
        #expect(store.usage(of: alice.publicKey) == (records: 1, bytes: 4), "expired records no longer count")
        #expect(store.store(record(by: alice, subkey: "c", expiry: 90_000), now: .at(70_000)) == .stored)
    }

    @Test func anOwnersExpiredRecordIsReplacedInPlace() {
        var store = RecordStore()
        #expect(store.store(record(by: alice, expiry: 20_000), now: .at(now)) == .stored)
        #expect(store.store(record(by: alice, value: [7, 7, 7], expiry: 30_000), now: .at(20_000)) == .stored)
        #expect(store.usage(of: alice.publicKey) == (records: 1, bytes: 4))
        #expect(store.count == 1)
    }
}
