import CohortBase
import Testing
@testable import Averaging

/// The step's groups (docs/protocol.md, "Several groups in one step"): what each leader lists,
/// the list the lowest leader writes, and the second stage's rounds every owner derives.
@Suite struct StepGroupListTests {
    /// A plan on the grid of `ids`, every member accepting connections with the given bandwidths.
    static func plan(_ ids: [UInt8], bandwidths: [UInt64]? = nil, samples: UInt64 = 32, elementCount: Int = 6_400) -> GroupPlan {
        GroupPlan(step: 41, elementCount: elementCount, members: ids.enumerated().map { index, id in
            declaration(peerID(id), bandwidth: bandwidths?[index] ?? 1_000_000, samples: samples)
        }, onGrid: true)!
    }

    static func listed(_ plans: [GroupPlan]) -> [(leader: PeerID, listing: GroupListing)] {
        plans.map { ($0.leader, GroupListing(plan: $0)!) }
    }

    @Test func aListingNamesEachGridPartsOwnerAndRoundTrips() throws {
        let plan = Self.plan([1, 2, 3], bandwidths: [100, 300, 200])
        let listing = GroupListing(plan: plan)!
        #expect(listing.owners.map(\.peer) == [peerID(1), peerID(2), peerID(3)])
        #expect(listing.weight == 96)
        #expect(listing.gridOwners.compactMap { $0 } == Array(repeating: 0, count: 11) + Array(repeating: 1, count: 32) + Array(repeating: 2, count: 21))
        #expect(try GroupListing(decoding: listing.encoded()[...]) == listing)
        #expect(GroupListing(plan: GroupPlan(step: 41, elementCount: 6_400, members: plan.members)!) == nil)
    }

    @Test func listingsThatCannotDescribeAPlanAreRefused() {
        let bytes = GroupListing(plan: Self.plan([1, 2, 3]))!.encoded()
        let gridStart = bytes.count - LoadBalancing.gridParts
        var outOfRange = bytes
        outOfRange[gridStart + 5] = 3
        var interleaved = bytes
        interleaved[gridStart] = 1
        var outOfOrder = bytes
        outOfOrder.replaceSubrange(gridStart..<(gridStart + 64), with: Array(repeating: 2, count: 22) + Array(repeating: 1, count: 21) + Array(repeating: 0, count: 21))
        var noWeight = bytes
        noWeight.replaceSubrange(18..<26, with: [UInt8](repeating: 0, count: 8))
        #expect(Self.kind(outOfRange) == .outOfRange)
        #expect(Self.kind(interleaved) == .inconsistentPlan)
        #expect(Self.kind(outOfOrder) == .inconsistentPlan)
        #expect(Self.kind(noWeight) == .outOfRange)
        #expect(Self.kind(bytes + [0]) == .trailingBytes)
        #expect(Self.kind(Array(bytes.dropLast())) == .truncated)
    }

    static func kind(_ bytes: [UInt8]) -> PayloadDecodingError.Kind? {
        do {
            _ = try GroupListing(decoding: bytes[...])
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func onlyTheLowestLeaderListsAndEveryGroupOfTheStepIsOnItsList() throws {
        let plans = [Self.plan([5, 6, 7]), Self.plan([1, 2]), Self.plan([3, 4, 8, 9])]
        #expect(StepGroupList.compose(by: peerID(3), step: 41, listings: Self.listed(plans)) == nil)
        let list = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: Self.listed(plans)))
        #expect(list.entries.map(\.leader) == [peerID(1), peerID(3), peerID(5)])
        #expect(list.entries.map(\.memberCount) == [2, 4, 3])
        #expect(plans.allSatisfy(list.lists))
        #expect(try StepGroupList(decoding: list.encoded()[...]) == list)
        // Another step's listing is not this step's group.
        let otherStep = GroupPlan(step: 40, elementCount: 6_400, members: [declaration(peerID(0), step: 40), declaration(peerID(10), step: 40)],
                                  onGrid: true)!
        let withOther = Self.listed(plans) + [(peerID(0), GroupListing(plan: otherStep)!)]
        #expect(StepGroupList.compose(by: peerID(1), step: 41, listings: withOther) == list)
    }

    @Test func listingsThatNameTheSameOwnerAreAllLeftOut() throws {
        // A leader of identities of its own lists an honest owner of another group as its owner.
        let honest = Self.plan([3, 4, 5])
        let other = Self.plan([6, 7])
        let forged = GroupListing(step: 41, planID: 99, memberCount: 2, weight: 64,
                                  owners: [GroupListing.Owner(peer: peerID(4), address: "10.0.0.1:7000", bandwidth: 1_000_000)],
                                  gridOwners: Array(repeating: 0, count: LoadBalancing.gridParts))
        let list = try #require(StepGroupList.compose(by: peerID(6), step: 41,
                                                      listings: Self.listed([honest, other]) + [(peerID(1), forged)]))
        #expect(list.entries.map(\.leader) == [peerID(6)])
    }

    @Test func aStepTakesAtMostAsManyGroupsAsASecondStageRoundHoldsMembers() throws {
        let listings = (0..<(StepGroupList.maxGroups + 5)).map { index in
            let first = PeerID(bytes: [0, UInt8(index >> 8), UInt8(index & 0xFF)] + [UInt8](repeating: 1, count: 29))!
            let second = PeerID(bytes: [1, UInt8(index >> 8), UInt8(index & 0xFF)] + [UInt8](repeating: 1, count: 29))!
            let plan = GroupPlan(step: 41, elementCount: 640, members: [declaration(first), declaration(second)], onGrid: true)!
            return (leader: plan.leader, listing: GroupListing(plan: plan)!)
        }
        let list = try #require(StepGroupList.compose(by: listings[0].leader, step: 41, listings: listings.shuffled()))
        #expect(list.entries.count == StepGroupList.maxGroups)
        #expect(try StepGroupList(decoding: list.encoded()[...]) == list)
        #expect(list.encoded().count <= 64 * 1024)
    }

    @Test func membersFollowTheListOfTheLowestWriterThatLeadsItsFirstGroup() throws {
        let plans = [Self.plan([1, 2]), Self.plan([3, 4]), Self.plan([5, 6])]
        let full = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: Self.listed(plans)))
        let late = try #require(StepGroupList.compose(by: peerID(3), step: 41, listings: Self.listed(Array(plans.dropFirst()))))
        // A list stored by someone who does not lead its first group counts for nothing.
        #expect(StepGroupList.chosen(step: 41, from: [(peerID(3), late), (peerID(0), late)]) == late)
        #expect(StepGroupList.chosen(step: 41, from: [(peerID(3), late), (peerID(1), full)]) == full)
        #expect(StepGroupList.chosen(step: 42, from: [(peerID(1), full)]) == nil)
        #expect(!late.lists(plans[0]) && late.lists(plans[1]))
    }

    @Test func theSecondStageCoversTheVectorOnceWithOneOwnerOfEveryGroupPerRound() throws {
        let plans = [Self.plan([1, 2, 3], bandwidths: [100, 300, 200]), Self.plan([4, 5], bandwidths: [50, 50]),
                     Self.plan([6, 7, 8, 9], bandwidths: [10, 10, 10, 10])]
        let listings = Self.listed(plans)
        let list = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: listings))
        guard case .rounds(let rounds) = list.secondStage(elementCount: 6_400, listings: Dictionary(uniqueKeysWithValues: listings)) else {
            Issue.record("no rounds")
            return
        }
        #expect(rounds.map(\.elements.lowerBound) == rounds.map(\.elements.lowerBound).sorted())
        #expect(rounds.flatMap { Array($0.elements) } == Array(0..<6_400))
        #expect(rounds.map(\.gridParts).reduce(0, |) == UInt64.max)
        #expect(Set(rounds.map(\.plan.id)).count == rounds.count)
        for round in rounds {
            #expect(round.plan.members.count == 3)
            #expect(round.plan.members.allSatisfy { $0.samples == 96 || $0.samples == 64 || $0.samples == 128 })
            for plan in plans {
                let owner = try #require(round.plan.members.first { member in plan.members.contains { $0.peer == member.peer } })
                #expect(plan.parts[plan.index(of: owner.peer)!].contains(round.elements.lowerBound))
                #expect(plan.parts[plan.index(of: owner.peer)!].upperBound >= round.elements.upperBound)
            }
        }
        // Cut where any group's owner changes: group 1 at grid parts 11 and 43, group 2 at 32, group 3 at 16, 32 and 48.
        #expect(rounds.map(\.elements.lowerBound) == [0, 1_100, 1_600, 3_200, 4_300, 4_800])
    }

    @Test func oneGroupNeedsNoSecondStageAndAMissingListingMakesItUnavailable() throws {
        let plans = [Self.plan([1, 2]), Self.plan([3, 4])]
        let listings = Self.listed(plans)
        let alone = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: Array(listings.prefix(1))))
        #expect(alone.secondStage(elementCount: 6_400, listings: [peerID(1): listings[0].listing]) == .notNeeded)
        let both = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: listings))
        guard case .unavailable = both.secondStage(elementCount: 6_400, listings: [peerID(1): listings[0].listing]) else {
            Issue.record("a second stage without one group's listing")
            return
        }
        // Listings of plans over 6,400 elements name owners of grid parts that are empty in 10.
        guard case .unavailable = both.secondStage(elementCount: 10, listings: Dictionary(uniqueKeysWithValues: listings)) else {
            Issue.record("a second stage over a vector the listings do not cut")
            return
        }
    }

    @Test func aVectorShorterThanTheGridGivesOneRoundPerOwnersNotTwoOfOneID() throws {
        // One owner per group: of two elements, grid parts 31 and 63 hold one each, with empty
        // grid parts between them; the same owners hold both, in one round.
        let plans = [GroupPlan(step: 41, elementCount: 2, members: [declaration(peerID(1)), declaration(peerID(2), clientMode: true)], onGrid: true)!,
                     GroupPlan(step: 41, elementCount: 2, members: [declaration(peerID(3)), declaration(peerID(4), clientMode: true)], onGrid: true)!]
        let listings = Self.listed(plans)
        let list = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: listings))
        guard case .rounds(let rounds) = list.secondStage(elementCount: 2, listings: Dictionary(uniqueKeysWithValues: listings)) else {
            Issue.record("no rounds")
            return
        }
        #expect(rounds.map(\.elements) == [0..<2])
        #expect(rounds.map(\.gridParts) == [1 << 31 | 1 << 63])
    }

    @Test func aSecondListingOfTheSamePlanIsNotTheOneTheListNames() throws {
        let plans = [Self.plan([1, 2, 3], bandwidths: [100, 300, 200]), Self.plan([4, 5])]
        let listings = Self.listed(plans)
        let list = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: listings))
        // The first leader stores another listing of its plan, shifting its owners' grid parts.
        let honest = listings[0].listing
        let shifted = GroupListing(step: 41, planID: honest.planID, memberCount: honest.memberCount, weight: honest.weight,
                                   owners: honest.owners, gridOwners: [0] + honest.gridOwners.dropLast())
        guard case .unavailable = list.secondStage(elementCount: 6_400, listings: [peerID(1): shifted, peerID(4): listings[1].listing]) else {
            Issue.record("rounds derived from a listing the list does not name")
            return
        }
        guard case .rounds = list.secondStage(elementCount: 6_400, listings: Dictionary(uniqueKeysWithValues: listings)) else {
            Issue.record("no rounds from the listings the list names")
            return
        }
    }
}
