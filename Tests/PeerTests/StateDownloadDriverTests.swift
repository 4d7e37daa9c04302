import CohortBase
import Averaging
import Collaboration
import NIOConcurrencyHelpers
@testable import Peer
import Testing
@testable import StateSync

/// The driver against scripted donors on a manual clock: no sockets, no sleeping.
@Suite(.timeLimit(.minutes(1))) struct StateDownloadDriverTests {
    enum Behaviour {
        /// Answers every request at once.
        case prompt
        /// Never answers; its requests end only when the driver cancels them.
        case silent
    }

    /// Donors that answer from `state` as their behaviour says, and count what they were asked.
    final class ScriptedDonors: Sendable {
        let state: [UInt8]
        let manifest: StateManifest
        let behaviours: [PeerID: Behaviour]
        private let asked = NIOLockedValueBox<[PeerID: [StateDownloadRequest]]>([:])
        private let silentRequestsEnded = NIOLockedValueBox(0)
        let silentAsked: AsyncStream<Void>
        private let silentAskedSignal: AsyncStream<Void>.Continuation

        init(state: [UInt8], behaviours: [PeerID: Behaviour]) {
            self.state = state
            manifest = StateManifest(step: 12, bytes: state, chunkBytes: 10)
            self.behaviours = behaviours
            (silentAsked, silentAskedSignal) = AsyncStream.makeStream()
        }

        func requests(to donor: PeerID) -> [StateDownloadRequest] { asked.withLockedValue { $0[donor] ?? [] } }
        var endedSilentRequests: Int { silentRequestsEnded.withLockedValue { $0 } }

        func answer(_ request: StateDownloadRequest) async -> StateDownloadReply {
            asked.withLockedValue { $0[request.donor, default: []].append(request) }
            switch (behaviours[request.donor], request) {
            case (.prompt, .manifest): return .manifest(chunkDigests: manifest.chunkDigests)
            case (.prompt, .chunk(_, let bytes, _)): return .chunk(state[bytes])
            case (.silent, _), (nil, _):
                silentAskedSignal.yield()
                try? await Task.sleep(for: .seconds(3600))
                silentRequestsEnded.withLockedValue { $0 += 1 }
                return .failed
            }
        }
    }

    static func peer(_ byte: UInt8) -> PeerID { PeerID(bytes: [UInt8](repeating: byte, count: 32))! }
    static let state: [UInt8] = (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 3) }

    static func download(donors: [PeerID], manifest: StateManifest) -> StateDownload {
        var settings = StateDownload.Settings()
        settings.chunkBytes = 10
        settings.requestTimeout = .seconds(10)
        return StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: state.count, donors: donors, settings: settings)
    }

    static func chunkRequests(_ requests: [StateDownloadRequest]) -> Int {
        requests.count { if case .chunk = $0 { true } else { false } }
    }

    @Test func aSilentManifestDonorIsReplacedOnceTheClockPassesItsDeadline() async throws {
        let silent = Self.peer(1), prompt = Self.peer(2)
        let donors = ScriptedDonors(state: Self.state, behaviours: [silent: .silent, prompt: .prompt])
        let clock = ManualClock()
        let driver = StateDownloadDriver(clock: clock, fetch: donors.answer)
        async let bytes = driver.run(Self.download(donors: [silent, prompt], manifest: donors.manifest)) { _ in }
        for await _ in donors.silentAsked { break }
        #expect(donors.requests(to: prompt).isEmpty, "the other donor waits for the manifest's deadline")
        clock.advance(by: .seconds(11))
        #expect(try await bytes == Self.state)
        #expect(donors.requests(to: silent) == [.manifest(from: silent)])
        #expect(Self.chunkRequests(donors.requests(to: prompt)) == 4)
        #expect(donors.endedSilentRequests == 1, "the silent request was cancelled, not waited for")
    }

    /// With batches the download would wait for the silent donor's first two chunks forever;
    /// fed reply by reply, the prompt donor serves its own chunks and then, in the end game,
    /// the silent donor's, without the clock moving at all.
    @Test func aSilentDonorHoldsUpNoOtherAndIsNotWaitedFor() async throws {
        let prompt = Self.peer(1), silent = Self.peer(2)
        let donors = ScriptedDonors(state: Self.state, behaviours: [silent: .silent, prompt: .prompt])
        let driver = StateDownloadDriver(clock: ManualClock(), fetch: donors.answer)
        let progress = NIOLockedValueBox<[Int]>([])
        let bytes = try await driver.run(Self.download(donors: [prompt, silent], manifest: donors.manifest)) { action in
            if case .progress(let received, _) = action { progress.withLockedValue { $0.append(received) } }
        }
        #expect(bytes == Self.state)
        #expect(Self.chunkRequests(donors.requests(to: silent)) == 2, "two request slots")
        #expect(Self.chunkRequests(donors.requests(to: prompt)) == 4)
        #expect(donors.endedSilentRequests == 2)
        #expect(progress.withLockedValue { $0 } == [10, 20, 30, 40])
    }

    @Test func losingEveryDonorFailsWithTheMachinesReason() async {
        let silent = Self.peer(1)
        let donors = ScriptedDonors(state: Self.state, behaviours: [silent: .silent])
        let clock = ManualClock()
        let driver = StateDownloadDriver(clock: clock, fetch: donors.answer)
        async let failure: PeerError? = {
            do throws(PeerError) {
                _ = try await driver.run(Self.download(donors: [silent], manifest: donors.manifest)) { _ in }
                return nil
            } catch {
                return error
            }
        }()
        for await _ in donors.silentAsked { break }
        clock.advance(by: .seconds(10))
        #expect(await failure?.description == "state download failed: every donor failed before the state was complete")
    }
}
