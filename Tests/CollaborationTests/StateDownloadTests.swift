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

    static func requests(_ actions: [StateDownload.Action]) -> [(Int, PeerID)] {
        actions.compactMap { if case .request(let chunk, _, let donor) = $0 { return (chunk, donor) } else { return nil } }
    }

    @Test func chunksAreSpreadOverEveryDonor() {
        var download = StateDownload(totalBytes: 35, donors: [Self.peer(1), Self.peer(2), Self.peer(3)], settings: Self.settings())
        let first = Self.requests(download.start(now: .zero))
        #expect(first.map(\.0) == [0, 1, 2])
        #expect(Set(first.map(\.1)) == [Self.peer(1), Self.peer(2), Self.peer(3)])
        #expect(download.byteRange(ofChunk: 3) == 30..<35)
        var actions = download.onChunk(0, byteCount: 10, from: first[0].1, now: .zero)
        #expect(Self.requests(actions).map(\.0) == [3])
        _ = download.onChunk(1, byteCount: 10, from: first[1].1, now: .zero)
        _ = download.onChunk(2, byteCount: 10, from: first[2].1, now: .zero)
        actions = download.onChunk(3, byteCount: 5, from: first[0].1, now: .zero)
        #expect(actions.contains(.completed))
        #expect(actions.contains(.progress(receivedBytes: 35, totalBytes: 35)))
    }

    @Test func aFailedDonorsChunksGoToTheOthers() {
        var download = StateDownload(totalBytes: 20, donors: [Self.peer(1), Self.peer(2)], settings: Self.settings())
        _ = download.start(now: .zero)
        let reassigned = Self.requests(download.onDonorFailed(Self.peer(2), now: .zero))
        #expect(reassigned.isEmpty)
        let next = Self.requests(download.onChunk(0, byteCount: 10, from: Self.peer(1), now: .zero))
        #expect(next.map(\.0) == [1] && next.map(\.1) == [Self.peer(1)])
        #expect(download.onChunk(1, byteCount: 10, from: Self.peer(1), now: .zero).contains(.completed))
    }

    @Test func aStalledDonorIsDroppedAtItsDeadline() {
        var download = StateDownload(totalBytes: 20, donors: [Self.peer(1), Self.peer(2)], settings: Self.settings())
        _ = download.start(now: .zero)
        _ = download.onChunk(0, byteCount: 10, from: Self.peer(1), now: .zero)
        let late = Timestamp.zero + .seconds(11)
        let actions = download.onDeadline(now: late)
        #expect(Self.requests(actions).map(\.0) == [1])
        #expect(Self.requests(actions).map(\.1) == [Self.peer(1)])
        #expect(download.onChunk(1, byteCount: 10, from: Self.peer(2), now: late).isEmpty)
    }

    @Test func wrongSizedChunksAndLosingEveryDonorFail() {
        var download = StateDownload(totalBytes: 20, donors: [Self.peer(1)], settings: Self.settings())
        _ = download.start(now: .zero)
        let actions = download.onChunk(0, byteCount: 3, from: Self.peer(1), now: .zero)
        #expect(actions == [.failed("every donor failed before the state was complete")])
        var lonely = StateDownload(totalBytes: 20, donors: [], settings: Self.settings())
        #expect(lonely.start(now: .zero) == [.failed("no up-to-date peer offered its state")])
    }
}
