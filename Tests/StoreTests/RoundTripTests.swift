import Foundation
import Store
import Testing

/// Values go to the server as parameters and come back unchanged.
@Suite struct RoundTripTests {
    /// Sends `value` as `$1::sqlType` and reads it back.
    private func echo<T: SQLEncodable & SQLDecodable & Sendable>(_ value: T, as sqlType: String, on database: Database) async throws -> T {
        try await database.withConnection { connection in
            try connection.queryOne("SELECT $1::\(sqlType) AS value", value)!.decode("value", as: T.self)
        }
    }

    /// Expects `value` to come back from the server unchanged.
    private func expectEcho<T: SQLEncodable & SQLDecodable & Sendable & Equatable>(
        _ value: T, as sqlType: String, on database: Database, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let echoed = try await echo(value, as: sqlType, on: database)
        #expect(echoed == value, sourceLocation: sourceLocation)
    }

    @Test("a text[] column reads as [String], quoting and escapes undone; NULL elements and nested arrays do not")
    func textArraysDecode() async throws {
        try await withDatabase { database, _ in
            let elements = ["member", "b c", "d\"e", "back\\slash", "", "NULL", "x,y", "{braces}", "日本語"]
            let read = try await database.withConnection { connection in
                try connection.queryOne(
                    "SELECT $1::text[] AS value, '{}'::text[] AS empty", elements)!
            }
            #expect(try read.decode("value", as: [String].self) == elements)
            #expect(try read.decode("empty", as: [String].self) == [])
            for bad in ["ARRAY['a', NULL]::text[]", "ARRAY[ARRAY['a'], ARRAY['b']]::text[]"] {
                let row = try await database.withConnection { try $0.queryOne("SELECT \(bad) AS value")! }
                #expect(throws: StoreError.decodingFailed) { try row.decode("value", as: [String].self) }
            }
        }
    }

    @Test("arrays of any encodable element arrive as themselves, a nil element as NULL")
    func typedArraysEncode() async throws {
        try await withDatabase { database, _ in
            let ids = [UUID(), UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!, UUID()]
            let row = try await database.withConnection { connection in
                try connection.queryOne(
                    """
                    SELECT array_to_string($1::uuid[], ' ') AS ids, $2::bigint[] = ARRAY[-5, 0, 9223372036854775807]::bigint[] AS numbers,
                    array_position($3::text[], NULL) AS null_at, array_length($3::text[], 1) AS length, ($3::text[])[1] AS first,
                    cardinality($4::uuid[]) AS empty
                    """, ids, [-5, 0, Int.max], ["a\"b", nil, "NULL"] as [String?], [UUID]())!
            }
            #expect(try row.decode("ids", as: String.self) == ids.map { $0.uuidString.lowercased() }.joined(separator: " "))
            #expect(try row.decode("numbers", as: Bool.self))
            #expect(try row.decode("null_at", as: Int.self) == 2)
            #expect(try row.decode("length", as: Int.self) == 3)
            #expect(try row.decode("first", as: String.self) == "a\"b")
            #expect(try row.decode("empty", as: Int.self) == 0)
        }
    }

    @Test("a UUID is written in PostgreSQL's canonical form and read in either case; anything else does not decode")
    func uuidText() throws {
        let id = UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!
        #expect(id.sqlText == "e621e1f8-c36c-495a-93fc-0c247a3e6e5f")
        #expect(try UUID(sqlText: "e621e1f8-c36c-495a-93fc-0c247a3e6e5f") == id)
        #expect(try UUID(sqlText: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F") == id)
        for _ in 0..<100 {
            let random = UUID()
            #expect(try UUID(sqlText: random.sqlText!) == random)
        }
        for bad in ["", "e621e1f8c36c495a93fc0c247a3e6e5f", "e621e1f8-c36c-495a-93fc-0c247a3e6e5", "e621e1f8-c36c-495a-93fc-0c247a3e6e5g",
                    "e621e1f-8c36c-495a-93fc-0c247a3e6e5f", "e621e1f8-c36c-495a-93fc-0c247a3e6e5f0", "é621e1f8-c36c-495a-93fc-0c247a3e6e5"] {
            #expect(throws: StoreError.decodingFailed) { try UUID(sqlText: bad) }
        }
    }

    @Test func everyTypeRoundTrips() async throws {
        try await withDatabase { database, _ in
            for text in ["", "plain", "héllo wörld — 日本語 🎉 \u{1F9D1}\u{200D}\u{1F4BB}", "'; DROP TABLE x; --", "back\\slash \"quoted\" $1 %s \n\t\r"] {
                try await expectEcho(text, as: "text", on: database)
            }
            for number in [0, 42, -42, Int.max, Int.min] {
                try await expectEcho(number, as: "int8", on: database)
                try await expectEcho(Int64(number), as: "int8", on: database)
            }
            for number in [Int32.min, 0, Int32.max] {
                try await expectEcho(number, as: "int4", on: database)
            }
            try await expectEcho(true, as: "bool", on: database)
            try await expectEcho(false, as: "bool", on: database)
            for number in [0.0, 0.1, -3.141592653589793, 1e-300, 1.7976931348623157e308, .infinity, -.infinity] {
                try await expectEcho(number, as: "float8", on: database)
            }
            let nan = try await echo(Double.nan, as: "float8", on: database)
            #expect(nan.isNaN)
            let id = UUID()
            try await expectEcho(id, as: "uuid", on: database)
            let instants = [
                Date(timeIntervalSince1970: 1_700_000_000.123456), Date(timeIntervalSince1970: -1.5), .distantPast, .distantFuture,
                Date.distantPast.addingTimeInterval(-400 * 86_400),  // a date BC
            ]
            for instant in instants {
                try await expectEcho(instant, as: "timestamptz", on: database)
            }
            let bytes = Data((0...255).map { UInt8($0) } + [0, 0, 0x27, 0x5C])
            for data in [Data(), bytes] {
                try await expectEcho(data, as: "bytea", on: database)
            }
            let json = SQLJSON(#"{"a": 1, "b": [true, null, "x'y \"z\" 🎉"]}"#)
            try await expectEcho(json, as: "jsonb", on: database)
        }
    }

    @Test func nullsRoundTripThroughOptionals() async throws {
        try await withDatabase { database, _ in
            let row = try await database.withConnection { connection in
                try connection.queryOne(
                    "SELECT $1::text AS a, $2::int8 AS b, $3::timestamptz AS c, $4::bytea AS d, $5::int8 AS e",
                    String?.none, Int?.none, SQLNull(), Data?.none, Int?.some(5))!
            }
            #expect(try row.decode("a", as: String?.self) == nil)
            #expect(try row.decode("b", as: Int?.self) == nil)
            #expect(try row.decode("c", as: Date?.self) == nil)
            #expect(try row.decode("d", as: Data?.self) == nil)
            #expect(try row.decode("e", as: Int?.self) == 5)
            #expect(row.isNull("a"))
            let error = #expect(throws: StoreError.self) { try row.decode("a", as: String.self) }
            #expect(error == .decodingFailed)
        }
    }

    @Test func theServerSeesWhatWasMeant() async throws {
        try await withDatabase { database, _ in
            let row = try await database.withConnection { connection in
                try connection.queryOne(
                    """
                    SELECT length($1::text) AS characters, $2::timestamptz = '2023-11-14 22:13:20.123456+00' AS same_instant,
                           encode($3::bytea, 'hex') AS hex, $4::uuid::text AS id
                    """,
                    "日本語🎉", Date(timeIntervalSince1970: 1_700_000_000.123456), Data([1, 2, 255]),
                    UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!)!
            }
            #expect(try row.decode("characters", as: Int.self) == 4)
            #expect(try row.decode("same_instant", as: Bool.self))
            #expect(try row.decode("hex", as: String.self) == "0102ff")
            #expect(try row.decode("id", as: String.self) == "e621e1f8-c36c-495a-93fc-0c247a3e6e5f")
        }
    }

    @Test func timestampsReadBackWhateverTheSessionTimeZone() async throws {
        try await withDatabase(poolSize: 1) { database, _ in
            let instants = [Date(timeIntervalSince1970: 1_700_000_000.25), Date(timeIntervalSince1970: -3_786_825_600)]
            for zone in ["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"] {
                for instant in instants {
                    let read = try await database.withConnection { connection in
                        try connection.executeScript("SET TimeZone TO '\(zone)'")
                        return try connection.queryOne("SELECT $1::timestamptz AS value", instant)!.decode("value", as: Date.self)
                    }
                    #expect(read == instant, "in \(zone)")
                }
            }
        }
    }

    @Test func hostileTextIsStoredAsDataNotRunAsSQL() async throws {
        try await withDatabase { database, _ in
            let hostile = "'); DROP TABLE notes; --"
            let stored = try await database.withConnection { connection in
                try connection.executeScript("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)")
                try connection.execute("INSERT INTO notes (body) VALUES ($1)", hostile)
                try connection.execute("INSERT INTO notes (body) VALUES ($1)", parameters: ["second; SELECT 1"])
                return try connection.query("SELECT body FROM notes ORDER BY id").map { try $0.decode("body", as: String.self) }
            }
            #expect(stored == [hostile, "second; SELECT 1"])
        }
    }

    @Test func rowsExposeColumnsAndDecodeByIndex() async throws {
        try await withDatabase { database, _ in
            let rows = try await database.withConnection { connection in
                try connection.query("SELECT n AS number, n * 2 AS doubled FROM generate_series(1, 3) AS n ORDER BY n")
            }
            #expect(rows.first?.columns == ["number", "doubled"])
            #expect(try rows.map { try $0.decode(1, as: Int.self) } == [2, 4, 6])
            let missing = #expect(throws: StoreError.self) { try rows[0].decode("nope", as: Int.self) }
            #expect(missing == .decodingFailed)
            let none = try await database.withConnection { try $0.queryOne("SELECT 1 WHERE false") }
            #expect(none == nil)
        }
    }

    @Test func decodingFailuresNameTheColumnNotTheValue() async throws {
        try await withDatabase { database, _ in
            let row = try await database.withConnection { try $0.queryOne("SELECT 'secret-value-7' AS token")! }
            let error = #expect(throws: StoreError.self) { try row.decode("token", as: Int.self) }
            #expect(error == .decodingFailed)
            #expect(error?.description.contains("token") == true)
            #expect(error?.description.contains("secret-value-7") == false)
        }
    }
}
