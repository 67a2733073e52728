import Foundation
import HTTPTypes
import Hummingbird
import PlatformSecurity

/// The reference web client at `/`: `index.html`, and its scripts, styles and images under
/// `/assets/`, read once at start-up. Each answer has a strong ETag (a conditional request that
/// matches is 304), `Cache-Control: no-cache` (the files have no version in their names, so a
/// browser asks again each time and mostly gets 304), and the headers that hold the browser to the
/// client's own files: a Content-Security-Policy with no inline script or style, no framing, no
/// referrer, no type sniffing. With a payment processor (`GATEWAY_PROCESSOR_URL`), the page names it
/// (`<meta name="processor-url">`) and the policy lets the page send a card there, and nowhere else.
struct WebClientRoutes {
    struct File {
        let body: ByteBuffer
        let contentType: String
        let etag: String
    }

    /// By path: "/" and "/assets/<name>".
    let files: [String: File]
    let headers: HTTPFields

    /// Reads `index.html` and every file of `assets/` in `folder`; a file of a kind it does not
    /// know is left out (a browser must never guess a type).
    init(folder: URL, processorURL: String? = nil) {
        var files: [String: File] = [:]
        let processor = processorURL.flatMap { URL(string: $0) }.flatMap { url -> (url: String, origin: String)? in
            guard let scheme = url.scheme, let host = url.host else { return nil }
            return (url.absoluteString, "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? ""))
        }
        if let index = Self.read(folder.appendingPathComponent("index.html"), filling: [
            #"<meta name="processor-url" content="">"#:
                #"<meta name="processor-url" content="\#(NotificationsRoutes.escaped(processor?.url ?? ""))">"#
        ]) {
            files["/"] = index
        }
        let assets = folder.appendingPathComponent("assets")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: assets.path)) ?? [] {
            if let file = Self.read(assets.appendingPathComponent(name)) { files["/assets/\(name)"] = file }
        }
        self.files = files
        self.headers = Self.headers(connectingTo: processor.map { [$0.origin] } ?? [])
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/") { request, _ in answer("/", to: request) }
        router.get("/assets/:name") { request, context in
            answer("/assets/\(context.parameters.get("name") ?? "")", to: request)
        }
    }

    private func answer(_ path: String, to request: Request) -> Response {
        guard let file = files[path] else {
            var headers = headers
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Not found\n")))
        }
        var headers = headers
        headers[.contentType] = file.contentType
        headers[.eTag] = file.etag
        if let asked = request.headers[.ifNoneMatch],
            asked.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == file.etag })
        {
            return Response(status: .notModified, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.body))
    }

    /// What every answer of the client carries. `connect-src 'self'` covers the API and the
    /// stream (a WebSocket to the same host); `origins` are the only others the page may call.
    static func headers(connectingTo origins: [String]) -> HTTPFields {
        [
            .cacheControl: "no-cache",
            .contentSecurityPolicy: contentSecurityPolicy(connectingTo: origins),
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
            HTTPField.Name("Permissions-Policy")!: "camera=(), microphone=(), geolocation=(), payment=()",
        ]
    }

    static func contentSecurityPolicy(connectingTo origins: [String]) -> String {
        [
            "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: https:",
            (["connect-src 'self'"] + origins).joined(separator: " "), "font-src 'self'", "form-action 'self'",
            "frame-ancestors 'none'", "base-uri 'none'",
        ].joined(separator: "; ")
    }

    private static let types = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon", "json": "application/json",
    ]

    /// The file, with each text of `filling` replaced by its value.
    private static func read(_ url: URL, filling: [String: String] = [:]) -> File? {
        guard let type = types[url.pathExtension.lowercased()], var data = try? Data(contentsOf: url) else { return nil }
        if !filling.isEmpty {
            var text = String(decoding: data, as: UTF8.self)
            for (placeholder, value) in filling { text = text.replacingOccurrences(of: placeholder, with: value) }
            data = Data(text.utf8)
        }
        return File(
            body: ByteBuffer(bytes: data), contentType: type, etag: "\"" + Hex.encode(SHA256.hash(data).prefix(12)) + "\"")
    }
}
