import DHT
import Testing

@Suite struct DHTSimulationTests {
    @Test func twoHundredNodesWithoutChurnFindEveryRecord() {
        let report = DHTSimulation.run(nodes: 200, churn: 0, lookups: 200, seed: 7)
        #expect(report.successRate == 1)
        #expect(Double(report.hopsP99) <= report.hopsBound)
        #expect(report.recordsPlaced == report.records)
    }

    @Test func twoHundredNodesSurviveThirtyPercentChurn() {
        let report = DHTSimulation.run(nodes: 200, churn: 0.3, lookups: 200, seed: 8)
        #expect(report.removedNodes == 60)
        #expect(report.successRate >= 0.99)
        #expect(Double(report.hopsP99) <= report.hopsBound)
    }

    @Test func sameSeedGivesTheSameReport() {
        var configuration = DHTSimulation.Configuration(nodes: 60, churn: 0.2, lookups: 30, records: 10, seed: 3)
        configuration.network.lossRate = 0.01
        #expect(DHTSimulation.run(configuration) == DHTSimulation.run(configuration))
    }

    @Test func lossyLinksAndChurnStillFindRecords() {
        var configuration = DHTSimulation.Configuration(nodes: 150, churn: 0.3, lookups: 150, records: 30, seed: 12)
        configuration.network.lossRate = 0.05
        let report = DHTSimulation.run(configuration)
        #expect(report.successRate >= 0.97)
        #expect(report.timeouts > 0)
    }
}
