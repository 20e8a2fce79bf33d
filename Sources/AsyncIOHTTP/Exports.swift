// HTTPRequest, HTTPResponse and HTTPFields are this module's currency: importing AsyncIOHTTP brings
// them along, as importing aiohttp brings its request and response types.
@_exported import HTTPTypes
