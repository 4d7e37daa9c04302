import NIOCore
@testable import Node
import Testing
import Wire

@Suite struct FrameOpenerTests {
    let key = [UInt8](repeating: 3, count: 32)

    private func sealed(_ frames: [Frame]) throws -> [UInt8] {
        var sealer = RecordSealer(key: key)
        var output = ByteBuffer()
        for frame in frames { try sealer.seal(frame, into: &output) }
        return Array(output.readableBytesView)
    }

    /// Opens `stream` read by read and collects the frames completed so far.
    private func frames(of stream: [UInt8], readSize: Int, maxPayloadLength: Int = Frame.defaultMaxPayloadLength) throws -> [Frame] {
        var opener = FrameOpener(key: key, maxPayloadLength: maxPayloadLength)
        var frames: [Frame] = []
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + readSize)
            var failure: SecureRecordError?
            stream[offset..<end].withUnsafeBytes { bytes in
                do throws(SecureRecordError) { try opener.open(bytes) } catch { failure = error }
            }
            if let failure { throw failure }
            while let frame = try opener.nextFrame() { frames.append(frame) }
            offset = end
        }
        return frames
    }

    private static let mixed: [Frame] = [
        Frame(type: .ping, requestID: 1, payload: []),
        Frame(type: .averagePart, requestID: 2, payload: (0..<300_001).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
        Frame(type: .pong, requestID: 1, payload: [7, 7]),
        Frame(type: .averagedPart, requestID: 2, payload: (0..<(1 << 20) + 40).map { UInt8(truncatingIfNeeded: $0 >> 3) }),
        Frame(type: .stateChunk, requestID: 3, payload: (0..<(2 * RecordSealer.frameEdgeLength + 1)).map { UInt8(truncatingIfNeeded: $0) }),
    ]

    /// Large payloads are decrypted into the frame in place, small frames and the edges of
    /// large ones through the scratch buffer; reads cut records anywhere.
    @Test(arguments: [1_000, 4_117, 65_536 + 20, 200_000, 3_000_000])
    func sealedFramesOpenToTheSameFrames(readSize: Int) throws {
        #expect(try frames(of: sealed(Self.mixed), readSize: readSize) == Self.mixed)
    }

    @Test func aTamperedPayloadRecordFailsWithoutDeliveringTheFrame() throws {
        var stream = try sealed(Self.mixed)
        stream[200_000] ^= 0x10
        var delivered: [Frame] = []
        var opener = FrameOpener(key: key, maxPayloadLength: Frame.defaultMaxPayloadLength)
        var failure: SecureRecordError?
        stream.withUnsafeBytes { bytes in
            do throws(SecureRecordError) { try opener.open(bytes) } catch { failure = error }
        }
        while let frame = try opener.nextFrame() { delivered.append(frame) }
        #expect(failure == .authenticationFailed)
        #expect(delivered == [Self.mixed[0]])
    }

    @Test func anOversizedFrameInsideGoodRecordsIsAWireError() throws {
        let stream = try sealed([Frame(type: .stateChunk, requestID: 1, payload: [UInt8](repeating: 1, count: 5_000))])
        #expect(throws: WireError.oversized) { try frames(of: stream, readSize: 10_000, maxPayloadLength: 4_096) }
    }
}
