import Foundation
import Store
import Testing

/// Encoding and decoding on their own, without a server.
@Suite struct SQLCodingTests {
    @Test func datesAreWrittenAsRFC3339InUTCWithMicroseconds() {
        #expect(Date(timeIntervalSince1970: 1_700_000_000.123456).sqlText == "2023-11-14T22:13:20.123456Z")
        #expect(Date(timeIntervalSince1970: 0).sqlText == "1970-01-01T00:00:00.000000Z")
        #expect(Date(timeIntervalSince1970: -1.5).sqlText == "1969-12-31T23:59:58.500000Z")
    }

    @Test func datesAreReadInEveryShapeTheServerWrites() throws {
        let instant = Date(timeIntervalSince1970: 1_700_000_000.5)
        #expect(try Date(sqlText: "2023-11-14 22:13:20.5+00") == instant)
        #expect(try Date(sqlText: "2023-11-15 03:43:20.5+05:30") == instant)
        #expect(try Date(sqlText: "2023-11-14 18:43:20.5-03:30") == instant)
        #expect(try Date(sqlText: "2023-11-14T22:13:20.500000Z") == instant)
        #expect(try Date(sqlText: "2023-11-14") == Date(timeIntervalSince1970: 1_699_920_000))
        #expect(try Date(sqlText: "infinity") == .distantFuture)
        #expect(try Date(sqlText: "-infinity") == .distantPast)
    }

    @Test func unreadableValuesThrowDecodingFailedWithoutQuotingThem() {
        for attempt in [{ _ = try Date(sqlText: "not-a-date-secret") }, { _ = try Int(sqlText: "not-a-date-secret") }, { _ = try Data(sqlText: "not-a-date-secret") }] {
            let error = #expect(throws: StoreError.self) { try attempt() }
            #expect(error == .decodingFailed)
            #expect(error?.description.contains("secret") == false)
        }
    }

    @Test func byteaIsHexEncoded() throws {
        #expect(Data([0x00, 0xAB, 0xFF]).sqlText == "\\x00abff")
        #expect(try Data(sqlText: "\\x00ABff") == Data([0x00, 0xAB, 0xFF]))
    }

    @Test func storeErrorsCompareByCodeOnly() {
        var error = StoreError.uniqueViolation
        error.sqlState = "23505"
        error.constraint = "users_email_key"
        #expect(error == .uniqueViolation)
        #expect(error != .checkViolation)
        #expect(error.description == "StoreError.uniqueViolation (SQLSTATE 23505, constraint users_email_key)")
    }
}
