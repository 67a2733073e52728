import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit

/// What the gateway's own HTML pages (OAuth consent, social sign-in) share: the origin they are
/// served from, whether a form was posted from one of them, and reading that form.
enum OwnPages {
    /// `GATEWAY_PUBLIC_URL` when set; otherwise the gateway as the request reached it (its `Host`),
    /// so a proxy in front must pass the public host on.
    static func origin(of request: Request, publicURL: String?, secure: Bool) -> String {
        publicURL ?? (secure ? "https://" : "http://") + (request.head.authority ?? "127.0.0.1")
    }

    /// Whether a browser's `Origin` is this gateway's: the host (and port) of `GATEWAY_PUBLIC_URL`
    /// when set, else of the request's `Host`. The scheme is not compared: a proxy in front may end
    /// TLS, so the gateway can be reached as https while it speaks http.
    static func isOwn(origin: String, of request: Request, publicURL: String?) -> Bool {
        isOwn(origin: origin, authority: publicURL.flatMap(authority(of:)) ?? request.head.authority)
    }

    /// Whether `origin` names the host (and port) `authority`, in any case.
    static func isOwn(origin: String, authority: String?) -> Bool {
        guard let sent = self.authority(of: origin), let authority else { return false }
        return sent == authority.lowercased()
    }

    /// "host[:port]" of a URL, lower-cased.
    private static func authority(of url: String) -> String? {
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else { return nil }
        return (parts.port.map { "\(host):\($0)" } ?? host).lowercased()
    }

    /// Whether a form post came from a page of this origin: with SameSite=Lax cookies no cross-site
    /// POST is signed in; this also refuses same-site pages that are not the gateway's.
    static func postedHere(_ request: Request, origin: String) -> Bool {
        if let site = request.headers[.secFetchSite], !["same-origin", "none"].contains(site) { return false }
        if let sent = request.headers[.origin], sent != "null", !isOwn(origin: sent, of: request, publicURL: origin) {
            return false
        }
        return true
    }

    /// The form a page posted (16 KiB at most), or nil when it is not form-encoded or holds NUL.
    static func form(of request: Request) async throws -> [String: String]? {
        let body = try await request.body.collect(upTo: 16 * 1024)
        guard let form = FormEncoding.decode(Data(body.readableBytesView)), !form.values.contains(where: { $0.contains("\0") }) else {
            return nil
        }
        return form
    }

    /// A problem shown above a page's form, for assistive technology too.
    static func warning(_ problem: String?) -> String {
        problem.map { #"<p role="alert"><strong>\#(NotificationsRoutes.escaped($0))</strong></p>"# } ?? ""
    }
}
