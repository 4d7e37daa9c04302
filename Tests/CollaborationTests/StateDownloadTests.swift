import CohortBase
import Averaging
import Testing
@testable import Collaboration

@Suite struct StateDownloadTests {
    static func peer(_ byte: UInt8) -> PeerID { PeerID(bytes: [UInt8](repeating: byte, count: 32))! }

    static func settings(chunk: Int = 10) -> StateDownload.Settings {
        var settings = StateDownload.Settings()
        settings.chunkBytes = chunk
        settings.requestsInFlightPerDonor = 1
        return settings
    }

    static func state(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    static func manifest(of state: [UInt8]) -> StateManifest { StateManifest(step: 12, bytes: state, chunkBytes: 10) }

    /// A download of `state` whose manifest the first donor has sent; returns the chunk requests that followed.
    static func started(_ state: [UInt8], donors: [PeerID]) -> (StateDownload, [(Int, PeerID)]) {
        let manifest = Self.manifest(of: state)
        var download = StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: state.count, donors: donors, settings: Self.settings())
        #expect(download.start(now: .zero).first == .requestManifest(from: donors[0]))
        let requests = Self.requests(download.onManifest(manifest.chunkDigests, from: donors[0], now: .zero))
        return (download, requests)
    }

    static func requests(_ actions: [StateDownload.Action]) -> [(Int, PeerID)] {
        actions.compactMap { if case .request(let chunk, _, let donor) = $0 { return (chunk, donor) } else { return nil } }
    }

    static func reported(_ actions: [StateDownload.Action]) -> [PeerID] {
        actions.compactMap { if case .report(let donor, _) = $0 { return donor } else { return nil } }
    }

    static func chunk(_ index: Int, of state: [UInt8]) -> ArraySlice<UInt8> { state[(index * 10)..<min(state.count, index * 10 + 10)] }

    @Test func chunksAreSpreadOverEveryDonor() {
        let state = Self.state(35)
        var (download, first) = Self.started(state, donors: [Self.peer(1), Self.peer(2), Self.peer(3)])
        #expect(first.map(\.0) == [0, 1, 2])
        #expect(Set(first.map(\.1)) == [Self.peer(1), Self.peer(2), Self.peer(3)])
        #expect(download.byteRange(ofChunk: 3) == 30..<35)
        var actions = download.onChunk(0, bytes: Self.chunk(0, of: state), from: first[0].1, now: .zero)
        #expect(Self.requests(actions).map(\.0) == [3])
        _ = download.onChunk(1, bytes: Self.chunk(1, of: state), from: first[1].1, now: .zero)
        _ = download.onChunk(2, bytes: Self.chunk(2, of: state), from: first[2].1, now: .zero)
        actions = download.onChunk(3, bytes: Self.chunk(3, of: state), from: first[0].1, now: .zero)
        #expect(actions.contains(.completed))
        #expect(actions.contains(.progress(receivedBytes: 35, totalBytes: 35)))
        #expect(download.state == state)
    }

    @Test func aFailedDonorsChunksGoToTheOthers() {
        let state = Self.state(20)
        var (download, _) = Self.started(state, donors: [Self.peer(1), Self.peer(2)])
        let reassigned = Self.requests(download.onDonorFailed(Self.peer(2), now: .zero))
        #expect(reassigned.isEmpty)
        let next = Self.requests(download.onChunk(0, bytes: Self.chunk(0, of: state), from: Self.peer(1), now: .zero))
        #expect(next.map(\.0) == [1] && next.map(\.1) == [Self.peer(1)])
        #expect(download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(1), now: .zero).contains(.completed))
    }

    @Test func aStalledDonorIsDroppedAtItsDeadlineAndItsChunksGoToTheOthers() {
        let state = Self.state(30)
        var (download, first) = Self.started(state, donors: [Self.peer(1), Self.peer(2)])
        #expect(first.map(\.0) == [0, 1] && first.map(\.1) == [Self.peer(1), Self.peer(2)])
        let five = MonotonicInstant.zero + .seconds(5)
        var actions = download.onChunk(0, bytes: Self.chunk(0, of: state), from: Self.peer(1), now: five)
        #expect(Self.requests(actions).map(\.0) == [2])
        #expect(actions.last == .wake(at: .zero + .seconds(10)), "the wake is the earliest deadline: peer 2's")
        let late = MonotonicInstant.zero + .seconds(11)
        actions = download.onDeadline(now: late)
        #expect(Self.requests(actions).isEmpty, "peer 1's one slot is taken")
        #expect(Self.reported(actions).isEmpty, "a slow donor may be honest")
        #expect(actions.last == .wake(at: .zero + .seconds(15)))
        #expect(download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(2), now: late).isEmpty,
                "a dropped donor's late reply is ignored")
        actions = download.onChunk(2, bytes: Self.chunk(2, of: state), from: Self.peer(1), now: late)
        #expect(Self.requests(actions).map(\.0) == [1] && Self.requests(actions).map(\.1) == [Self.peer(1)])
        #expect(download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(1), now: late).contains(.completed))
    }

    @Test func aDeadlineWithNothingDueOnlyAsksForTheNextWake() {
        let state = Self.state(20)
        var (download, _) = Self.started(state, donors: [Self.peer(1), Self.peer(2)])
        #expect(download.onDeadline(now: .zero + .seconds(3)) == [.wake(at: .zero + .seconds(10))])
    }

    @Test func anIdleDonorAlsoAsksForTheChunkAStragglerOwesAndTheFirstCopyCounts() {
        let state = Self.state(30)
        var (download, _) = Self.started(state, donors: [Self.peer(1), Self.peer(2)])
        _ = download.onChunk(0, bytes: Self.chunk(0, of: state), from: Self.peer(1), now: .zero + .seconds(1))
        let endGame = download.onChunk(2, bytes: Self.chunk(2, of: state), from: Self.peer(1), now: .zero + .seconds(2))
        #expect(Self.requests(endGame).map(\.0) == [1] && Self.requests(endGame).map(\.1) == [Self.peer(1)],
                "no chunk is left to hand out, so idle peer 1 asks for the one peer 2 owes")
        let done = download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(2), now: .zero + .seconds(3))
        #expect(done.contains(.completed))
        #expect(download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(1), now: .zero + .seconds(3)).isEmpty)
        #expect(download.state == state)
    }

    @Test func noDonorGetsMoreRequestsThanItsSlots() {
        var settings = Self.settings()
        settings.requestsInFlightPerDonor = 3
        let donors = [DownloadSimulation.Donor(id: Self.peer(1), perRequest: .seconds(1)),
                      DownloadSimulation.Donor(id: Self.peer(2), perRequest: .seconds(2))]
        let outcome = DownloadSimulation(state: Self.state(300), donors: donors, settings: settings).run()
        #expect(outcome.completedAt != nil)
        #expect(outcome.mostInFlight == 3)
    }

    /// Donor 1 serves a chunk a second, donor 2 one in three: donor 1 should serve about three
    /// quarters, and the download should take about as long as 30 chunks at the two donors'
    /// combined 4/3 chunks a second.
    @Test func fasterDonorsServeMoreChunks() {
        var settings = Self.settings()
        settings.requestsInFlightPerDonor = 2
        let donors = [DownloadSimulation.Donor(id: Self.peer(1), perRequest: .seconds(1)),
                      DownloadSimulation.Donor(id: Self.peer(2), perRequest: .seconds(3))]
        let outcome = DownloadSimulation(state: Self.state(400), donors: donors, settings: settings).run()
        let fast = outcome.chunksKept[Self.peer(1)] ?? 0, slow = outcome.chunksKept[Self.peer(2)] ?? 0
        #expect(fast + slow == 40)
        #expect((28...32).contains(fast), "donor 1 kept \(fast) of 40 chunks")
        let seconds = outcome.completedAt.map { ($0 - .zero).components.seconds }
        #expect(seconds.map { (30...33).contains($0) } == true, "completed after \(String(describing: seconds)) s")
    }

    /// A donor that never answers holds its two chunks until its deadline; the fast donor
    /// then takes them, and the download ends barely later than from the fast donor alone.
    @Test func aSilentDonorCostsNoMoreThanDownloadingFromTheOthers() {
        var settings = Self.settings()
        settings.requestsInFlightPerDonor = 2
        let fastAlone = DownloadSimulation(state: Self.state(400), donors: [.init(id: Self.peer(1), perRequest: .seconds(1))],
                                           settings: settings).run()
        let withSilent = DownloadSimulation(state: Self.state(400), donors: [.init(id: Self.peer(1), perRequest: .seconds(1)),
                                                                             .init(id: Self.peer(2), perRequest: nil)],
                                            settings: settings).run()
        #expect(fastAlone.completedAt == .zero + .seconds(41), "a manifest and 40 chunks at a second each")
        #expect(withSilent.completedAt == fastAlone.completedAt)
        #expect(withSilent.chunksKept[Self.peer(1)] == 40)
    }

    /// A slow donor's last chunks are also asked of the fast donor once it has nothing else to
    /// do, so the download does not end when the slow donor's queue does.
    @Test func theEndGameSparesWaitingForASlowDonorsLastChunks() {
        var settings = Self.settings()
        settings.requestsInFlightPerDonor = 2
        let donors = [DownloadSimulation.Donor(id: Self.peer(1), perRequest: .seconds(1)),
                      DownloadSimulation.Donor(id: Self.peer(2), perRequest: .seconds(4))]
        let outcome = DownloadSimulation(state: Self.state(200), donors: donors, settings: settings).run()
        #expect(outcome.repeatedChunkRequests > 0)
        let seconds = outcome.completedAt.map { ($0 - .zero).components.seconds }
        // 20 chunks at 1.25 a second take 16 s after the 1 s manifest; without the end game the
        // slow donor's queue of two 4 s chunks could add up to 8 s.
        #expect(seconds.map { $0 <= 18 } == true, "completed after \(String(describing: seconds)) s")
    }

    @Test func aDonorSendingAChunkUnlikeTheManifestIsReportedAndTheOthersFinish() {
        let state = Self.state(30)
        var (download, first) = Self.started(state, donors: [Self.peer(1), Self.peer(2)])
        #expect(first.map(\.0) == [0, 1] && first.map(\.1) == [Self.peer(1), Self.peer(2)])
        var forged = Array(Self.chunk(1, of: state))
        forged[3] ^= 1
        let actions = download.onChunk(1, bytes: forged[...], from: Self.peer(2), now: .zero)
        #expect(Self.reported(actions) == [Self.peer(2)])
        #expect(!actions.contains(.progress(receivedBytes: 10, totalBytes: 30)), "a forged chunk is not kept")
        #expect(download.onChunk(0, bytes: Self.chunk(0, of: state), from: Self.peer(2), now: .zero).isEmpty,
                "a dropped donor's replies are ignored")
        _ = download.onChunk(0, bytes: Self.chunk(0, of: state), from: Self.peer(1), now: .zero)
        _ = download.onChunk(1, bytes: Self.chunk(1, of: state), from: Self.peer(1), now: .zero)
        #expect(download.onChunk(2, bytes: Self.chunk(2, of: state), from: Self.peer(1), now: .zero).contains(.completed))
        #expect(download.state == state)
    }

    @Test func aWrongManifestIsReportedAndTheNextDonorIsAsked() {
        let state = Self.state(20)
        let manifest = Self.manifest(of: state)
        var download = StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: 20, donors: [Self.peer(1), Self.peer(2)],
                                     settings: Self.settings())
        _ = download.start(now: .zero)
        var forged = manifest.chunkDigests
        forged[0] ^= 1
        let actions = download.onManifest(forged, from: Self.peer(1), now: .zero)
        #expect(Self.reported(actions) == [Self.peer(1)])
        #expect(actions.contains(.requestManifest(from: Self.peer(2))))
        #expect(Self.requests(download.onManifest(manifest.chunkDigests, from: Self.peer(2), now: .zero)).map(\.1) == [Self.peer(2)])
    }

    @Test func aManifestOfTheWrongLengthIsReported() {
        let state = Self.state(20)
        let manifest = Self.manifest(of: state)
        var download = StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: 20, donors: [Self.peer(1)], settings: Self.settings())
        _ = download.start(now: .zero)
        let actions = download.onManifest(manifest.chunkDigests + [UInt8](repeating: 0, count: 32), from: Self.peer(1), now: .zero)
        #expect(Self.reported(actions) == [Self.peer(1)])
        #expect(actions.last == .failed("every donor failed before the state was complete"))
    }

    @Test func aDonorThatCannotSendTheManifestIsDroppedWithoutBlame() {
        let state = Self.state(20)
        let manifest = Self.manifest(of: state)
        var download = StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: 20, donors: [Self.peer(1), Self.peer(2)],
                                     settings: Self.settings())
        _ = download.start(now: .zero)
        let actions = download.onDeadline(now: .zero + .seconds(11))
        #expect(Self.reported(actions).isEmpty)
        #expect(actions.contains(.requestManifest(from: Self.peer(2))))
    }

    @Test func wrongSizedChunksAndLosingEveryDonorFail() {
        let state = Self.state(20)
        var (download, _) = Self.started(state, donors: [Self.peer(1)])
        let actions = download.onChunk(0, bytes: Self.chunk(0, of: state).prefix(3), from: Self.peer(1), now: .zero)
        #expect(Self.reported(actions) == [Self.peer(1)])
        #expect(actions.last == .failed("every donor failed before the state was complete"))
        var lonely = StateDownload(step: 12, stateHash: [], totalBytes: 20, donors: [], settings: Self.settings())
        #expect(lonely.start(now: .zero) == [.failed("no up-to-date peer offered its state")])
    }
}
