import CohortBase
import Admission
import Testing

@Suite struct AdmissionRulesTests {
    let alice = publicKey(Sample.alice)

    @Test func validTokenOfTheProvenKeyIsAdmitted() throws {
        let token = try Sample.token()
        #expect(try Sample.rules.admit(presented: token.encoded, provenKey: alice, now: .at(Sample.now)) == token)
    }

    @Test func runKeyHolderNeedsNoToken() throws {
        #expect(try Sample.rules.admit(presented: [], provenKey: publicKey(Sample.runKey), now: .at(Sample.now)) == nil)
    }

    @Test func eachBadTokenIsRefusedWithItsReason() throws {
        let rules = Sample.rules
        func refusal(_ presented: [UInt8], key: [UInt8]? = nil, now: UInt64 = Sample.now) -> AdmissionRefusal? {
            do {
                _ = try rules.admit(presented: presented, provenKey: key ?? alice, now: .at(now))
                return nil
            } catch {
                return error
            }
        }
        let token = try Sample.token()
        #expect(refusal([])?.reason == .noToken)
        #expect(refusal([1, 2, 3])?.reason == .malformedToken)
        #expect(refusal(try Sample.token(signer: Sample.bob).encoded)?.reason == .wrongSigner)
        var forged = token.encoded
        forged[forged.count - 1] ^= 1
        #expect(refusal(forged)?.reason == .badSignature)
        #expect(refusal(try Sample.token(run: "other").encoded)?.reason == .otherRun)
        #expect(refusal(token.encoded, key: publicKey(Sample.bob))?.reason == .otherPeer)
        #expect(refusal(token.encoded, now: token.claims.expiresAt.millisecondsSinceEpoch)?.reason == .expired)
        #expect(refusal(token.encoded, now: token.claims.expiresAt.millisecondsSinceEpoch - 1) == nil)
    }

    @Test func refusalsPrintOneLineWithTheirDetail() throws {
        let expired = try Sample.token(expiry: Sample.now)
        #expect(throws: AdmissionRefusal(.expired)) {
            try Sample.rules.admit(presented: expired.encoded, provenKey: alice, now: .at(Sample.now))
        }
        do {
            _ = try Sample.rules.admit(presented: expired.encoded, provenKey: alice, now: .at(Sample.now))
        } catch {
            #expect(error.description == "the access token has expired (alice's token expired at 2027-01-15T08:00:00Z)")
        }
    }

    @Test func revokedKeyIsRefusedEvenWithAValidToken() throws {
        var rules = Sample.rules
        #expect(try rules.apply(try Sample.revocations([alice], sequence: 1)))
        #expect(throws: AdmissionRefusal(.revoked)) {
            try rules.admit(presented: try Sample.token().encoded, provenKey: alice, now: .at(Sample.now))
        }
        #expect(try rules.admit(presented: try Sample.token(for: Sample.bob).encoded, provenKey: publicKey(Sample.bob),
                                now: .at(Sample.now)) != nil)
    }

    @Test func onlyANewerListOfTheRunSignedByTheRunKeyApplies() throws {
        var rules = Sample.rules
        #expect(try rules.apply(try Sample.revocations([alice], sequence: 2)))
        #expect(try !rules.apply(try Sample.revocations([], sequence: 1)))
        #expect(try !rules.apply(try Sample.revocations([], sequence: 2)))
        #expect(rules.revokedKeys == [alice])
        #expect(throws: AdmissionError.self) { try rules.apply(try Sample.revocations([], sequence: 9, signer: Sample.bob)) }
        #expect(throws: AdmissionError("revocation list is for run other, not shakespeare")) {
            try rules.apply(try Sample.revocations([], sequence: 9, run: "other"))
        }
        #expect(try rules.apply(try Sample.revocations([], sequence: 3)))
        #expect(rules.revokedKeys.isEmpty)
    }

    @Test func newestValidListAmongRecordValuesIsApplied() throws {
        var rules = Sample.rules
        let values = [try Sample.revocations([alice], sequence: 4).encoded, [0xFF],
                      try Sample.revocations([], sequence: 7, signer: Sample.bob).encoded,
                      try Sample.revocations([], sequence: 2).encoded]
        #expect(rules.applyNewest(of: values)?.contents.sequence == 4)
        #expect(rules.applyNewest(of: values) == nil)
    }
}
