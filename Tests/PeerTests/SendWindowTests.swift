import Node
@testable import Peer
import Testing

/// How many chunks a member keeps in flight to one owner (`AllReduceDriver.sendWindow`).
@Suite struct SendWindowTests {
    @Test func largeChunksAreBoundByHalfTheSendBuffer() {
        let settings = TransportSettings()
        #expect(AllReduceDriver.sendWindow(chunkBytes: 1 << 20, settings: settings) == settings.sendBufferHighWatermark / 2 / (1 << 20))
        #expect(AllReduceDriver.sendWindow(chunkBytes: 16 << 20, settings: settings) == 1, "one chunk larger than the buffer still goes")
    }

    /// At `maxInboundRequestsPerPeer` an owner stops reading the member's connection, which also
    /// brings it the averages of its own part: a round of 16 KiB chunks with a window of 64 and
    /// the DHT's requests on top stalled until its timeout on the WAN rehearsal's links.
    @Test func smallChunksLeaveHalfOfTheOwnersRequestLimitFree() {
        let settings = TransportSettings()
        for chunkBytes in [16 << 10, 1 << 10, 1] {
            #expect(AllReduceDriver.sendWindow(chunkBytes: chunkBytes, settings: settings) == settings.maxInboundRequestsPerPeer / 2)
        }
        var strict = settings
        strict.maxInboundRequestsPerPeer = 8
        #expect(AllReduceDriver.sendWindow(chunkBytes: 1 << 10, settings: strict) == 4)
    }
}
