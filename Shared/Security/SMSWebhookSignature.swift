public import Foundation

/// The SMS provider's webhook signature, as Twilio signs (`X-Twilio-Signature`): the base64
/// HMAC-SHA-1, under the account's auth token, of the full URL the provider posted to followed by
/// every form parameter, sorted by name, as name then value with nothing between.
public enum SMSWebhookSignature {
    /// The header's value for a POST of `parameters` to `url`.
    public static func header(url: String, parameters: [String: String], authToken: String) -> String {
        var signed = url
        for name in parameters.keys.sorted() {
            signed += name + (parameters[name] ?? "")
        }
        return HMAC.sha1(key: Data(authToken.utf8), message: Data(signed.utf8)).base64EncodedString()
    }

    /// Whether `header` is the signature of `parameters` posted to `url`, compared in constant time.
    public static func isValid(_ header: String, url: String, parameters: [String: String], authToken: String) -> Bool {
        ConstantTime.equals(Data(header.utf8), Data(self.header(url: url, parameters: parameters, authToken: authToken).utf8))
    }
}
