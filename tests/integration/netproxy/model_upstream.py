#!/usr/bin/env python3
"""A model-API upstream for the session database checks: HTTPS on
ADDR:PORT with CERT/KEY, answering as Anthropic, OpenAI and Gemini do, with
the usage numbers of USAGE below (the test expects exactly these).

  POST /v1/messages                 Anthropic Messages; "stream": true in
                                    the request -> event stream
  POST /v1/responses                OpenAI Responses; stream -> events
  POST /v1/chat/completions         OpenAI Chat Completions; stream ->
                                    chunks, a usage chunk, [DONE]
  POST /v1beta/models/M:generateContent             Gemini, one object
  POST /v1beta/models/M:streamGenerateContent?alt=sse  Gemini events
  POST /v1/messages with "model": "rate-limited"     429, an error body

Streams are sent chunked, a few bytes per chunk and per write, so the
proxy sees usage fields split across TLS records.  A request that asks
for a compressed answer (Accept-Encoding with gzip) gets one, gzipped,
as the real APIs do: the proxy must ask for identity to read usage.
"""
import gzip
import http.server
import json
import ssl
import sys

USAGE = {
    'anthropic': dict(model='claude-sonnet-4-5-20250929', input=1200,
                      output=345, cache_read=5000, cache_write=640),
    'responses': dict(model='gpt-5-codex', input=2000, cached=1500,
                      output=700, reasoning=300),
    'chat': dict(model='gpt-4o-mini', prompt=900, cached=100,
                 completion=80),
    'gemini': dict(model='gemini-2.5-flash', prompt=3000, cached=1000,
                   candidates=250, thoughts=50),
}


def sse(events):
    out = ''
    for name, data in events:
        if name:
            out += 'event: %s\n' % name
        out += 'data: %s\n\n' % (data if isinstance(data, str)
                                 else json.dumps(data))
    return out.encode()


def anthropic(stream):
    u = USAGE['anthropic']
    usage = {'input_tokens': u['input'], 'output_tokens': u['output'],
             'cache_read_input_tokens': u['cache_read'],
             'cache_creation_input_tokens': u['cache_write']}
    if not stream:
        return 'application/json', json.dumps({
            'id': 'msg_1', 'type': 'message', 'role': 'assistant',
            'model': u['model'], 'stop_reason': 'tool_use',
            'content': [{'type': 'text', 'text': 'Reading "it"\u2026'},
                        {'type': 'tool_use', 'id': 't1', 'name': 'Bash',
                         'input': {'command': 'ls'}}],
            'usage': usage}).encode()
    start = dict(usage, output_tokens=1)
    return 'text/event-stream', sse([
        ('message_start', {'type': 'message_start', 'message': {
            'id': 'msg_1', 'type': 'message', 'role': 'assistant',
            'model': u['model'], 'content': [], 'stop_reason': None,
            'usage': start}}),
        ('ping', {'type': 'ping'}),
        ('content_block_start', {'type': 'content_block_start', 'index': 0,
                                 'content_block': {'type': 'text',
                                                   'text': ''}}),
        ('content_block_delta', {'type': 'content_block_delta', 'index': 0,
                                 'delta': {'type': 'text_delta',
                                           'text': 'x' * 3000}}),
        ('content_block_start', {'type': 'content_block_start', 'index': 1,
                                 'content_block': {'type': 'tool_use',
                                                   'id': 't1',
                                                   'name': 'Read',
                                                   'input': {}}}),
        ('message_delta', {'type': 'message_delta',
                           'delta': {'stop_reason': 'tool_use'},
                           'usage': {'output_tokens': u['output']}}),
        ('message_stop', {'type': 'message_stop'})])


def responses(stream):
    u = USAGE['responses']
    resp = {'id': 'resp_1', 'object': 'response', 'status': 'completed',
            'model': u['model'],
            'output': [{'type': 'function_call', 'name': 'shell',
                        'call_id': 'c1', 'arguments': '{}'}],
            'usage': {'input_tokens': u['input'],
                      'input_tokens_details': {'cached_tokens': u['cached']},
                      'output_tokens': u['output'],
                      'output_tokens_details': {
                          'reasoning_tokens': u['reasoning']}}}
    if not stream:
        return 'application/json', json.dumps(resp).encode()
    return 'text/event-stream', sse([
        ('response.created', {'type': 'response.created', 'response': dict(
            resp, status='in_progress', output=[], usage=None)}),
        ('response.output_item.done', {'type': 'response.output_item.done',
                                       'item': resp['output'][0]}),
        ('response.completed', {'type': 'response.completed',
                                'response': resp})])


def chat(stream):
    u = USAGE['chat']
    usage = {'prompt_tokens': u['prompt'], 'completion_tokens':
             u['completion'], 'prompt_tokens_details': {
                 'cached_tokens': u['cached']}}
    if not stream:
        return 'application/json', json.dumps({
            'id': 'c1', 'object': 'chat.completion', 'model': u['model'],
            'choices': [{'index': 0, 'finish_reason': 'stop', 'message': {
                'role': 'assistant', 'content': 'hi'}}],
            'usage': usage}).encode()
    chunk = {'id': 'c1', 'object': 'chat.completion.chunk',
             'model': u['model']}
    return 'text/event-stream', sse([
        (None, dict(chunk, choices=[{'index': 0, 'delta': {
            'tool_calls': [{'index': 0, 'id': 'x', 'type': 'function',
                            'function': {'name': 'grep',
                                         'arguments': ''}}]}}])),
        (None, dict(chunk, choices=[{'index': 0, 'delta': {},
                                     'finish_reason': 'tool_calls'}])),
        (None, dict(chunk, choices=[], usage=usage)),
        (None, '[DONE]')])


def gemini(stream):
    u = USAGE['gemini']
    def obj(final):
        o = {'candidates': [{'content': {'role': 'model', 'parts': [
            {'text': 'hello'}]}, 'index': 0}], 'modelVersion': u['model']}
        if final:
            o['candidates'][0]['content']['parts'].append(
                {'functionCall': {'name': 'list_directory', 'args': {}}})
            o['candidates'][0]['finishReason'] = 'STOP'
        o['usageMetadata'] = {
            'promptTokenCount': u['prompt'],
            'cachedContentTokenCount': u['cached'],
            'candidatesTokenCount': u['candidates'] if final else 3,
            'thoughtsTokenCount': u['thoughts'],
            'totalTokenCount': 1}
        return o
    if not stream:
        return 'application/json', json.dumps(obj(True)).encode()
    return 'text/event-stream', sse([(None, obj(False)), (None, obj(True))])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        try:
            req = json.loads(body or b'{}')
        except ValueError:
            req = {}
        stream = bool(req.get('stream'))
        path = self.path
        if path.startswith('/v1/messages') and \
                req.get('model') == 'rate-limited':
            data = json.dumps({'type': 'error', 'error': {
                'type': 'rate_limit_error', 'message': 'slow down'}}).encode()
            self.send_response(429)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if path.split('?')[0] == '/v1/messages':
            ctype, data = anthropic(stream)
        elif path == '/v1/responses':
            ctype, data = responses(stream)
        elif path == '/v1/chat/completions':
            ctype, data = chat(stream)
        elif ':generateContent' in path:
            ctype, data = gemini(False)
        elif ':streamGenerateContent' in path:
            ctype, data = gemini(True)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        if 'gzip' in self.headers.get('Accept-Encoding', ''):
            data = gzip.compress(data)
            self.send_header('Content-Encoding', 'gzip')
        self.send_header('Transfer-Encoding', 'chunked')
        self.end_headers()
        self.wfile.flush()
        # a few bytes per chunk, each its own write (and TLS record)
        step = 7
        for i in range(0, len(data), step):
            part = data[i:i + step]
            self.wfile.write(b'%x\r\n%s\r\n' % (len(part), part))
            self.wfile.flush()
        self.wfile.write(b'0\r\n\r\n')
        self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def main():
    addr, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    srv = Server((addr, port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print('ready', flush=True)
    srv.serve_forever()


main()
